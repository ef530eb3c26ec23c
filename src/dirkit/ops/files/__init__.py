"""Split one file into checked parts and join them again."""
