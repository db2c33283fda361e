"""ACD connectors (``rta connect ccai|omni``): platform states in, canonical events out."""
