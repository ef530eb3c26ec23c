"""Pack a tree into an archive, unpack one safely, and the compressed streams they share."""
