"""participation stage of weefsel."""
