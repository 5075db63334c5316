"""Model file -> portable C99 for the cells, rendered from jinja2 templates (codegen/templates/)."""
