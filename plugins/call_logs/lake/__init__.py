"""The lake contract (schema, layout, manifest) and the streaming, atomic partition writer."""
