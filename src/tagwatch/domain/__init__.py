"""Plain data of electronic monitoring. No I/O, no clocks: see DESIGN.md."""
