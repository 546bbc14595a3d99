"""What a reader receives: results files, tables and verdicts, figures, animations, HTML, PDF and the index."""
