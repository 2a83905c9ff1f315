"""indicators stage of weefsel."""
