"""Model file -> portable C99 for the cells: jinja2 templates (codegen/templates/) for what varies
with the model, the rule's fixed C (firmware/rule/) copied beside them."""
