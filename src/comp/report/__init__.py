"""What a person looks at: plots and tables (``plots``) and ``comp report``'s HTML page (``page``)."""
