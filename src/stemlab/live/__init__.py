"""Live acquisition: detector sources, recording, live maps and advice on where to scan next."""
