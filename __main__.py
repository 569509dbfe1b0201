"""Entry point for `pulumi up`: read the spec from stack config and build the blueprint."""
from blueprints.program import main

main()
