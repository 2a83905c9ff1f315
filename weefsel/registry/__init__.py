"""registry stage of weefsel."""
