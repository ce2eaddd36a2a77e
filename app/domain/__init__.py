"""The shop's rules: order states and validation. Knows no broker, database or Qt."""
