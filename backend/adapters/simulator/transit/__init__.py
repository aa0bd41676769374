"""The simulated city's public transport: lines, timetables, signals with phases and priority."""
