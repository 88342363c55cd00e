"""How the CLI shows things: tables, columns (ages, durations, phases), event lines, and the
json/yaml output formats. Pure text; no store, no bus."""
