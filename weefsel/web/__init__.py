"""web stage of weefsel."""
