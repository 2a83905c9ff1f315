"""sources stage of weefsel."""
