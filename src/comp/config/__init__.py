"""The typed configuration: a competition's spec (``spec``) and a training recipe (``recipe``)."""
