"""The Transport panel's views: line diagrams, the corridor chart, junctions and regulation."""
