"""Source of the SIEM transformation Lambda (deployed by components/siem_shipper.py).

`handler.py` is shipped to AWS Lambda as-is: standard library only, no imports from this
project, so the archive Pulumi uploads is exactly that one file.
"""
