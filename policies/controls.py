"""Compliance frameworks and the control sets the rules evidence, as data.

A rule's `controls` maps a framework key to control ids. The sets below are the recurring
ones; a rule combines them with `merge(...)` so that one mapping is written once.
"""

from __future__ import annotations

from typing import Mapping, Sequence

FRAMEWORKS: dict[str, str] = {
    "nist-800-53-r5": "NIST SP 800-53 Rev. 5",
    "hipaa": "HIPAA Security Rule (45 CFR 164 Subpart C)",
    "pci-dss-4.0": "PCI DSS v4.0",
    "gdpr": "GDPR",
    "sox-itgc": "SOX IT general controls",
}

Controls = Mapping[str, Sequence[str]]


def merge(*sets: Controls) -> dict[str, tuple[str, ...]]:
    """The union of control sets, per framework, in first-seen order."""
    out: dict[str, list[str]] = {}
    for s in sets:
        for framework, ids in s.items():
            if framework not in FRAMEWORKS:
                raise KeyError(f"unknown framework {framework!r}; use one of {', '.join(FRAMEWORKS)}")
            bucket = out.setdefault(framework, [])
            bucket.extend(i for i in ids if i not in bucket)
    return {k: tuple(out[k]) for k in FRAMEWORKS if k in out}


BOUNDARY = {
    "nist-800-53-r5": ["SC-7", "SC-7(5)", "AC-4"],
    "hipaa": ["164.312(e)(1)"],
    "pci-dss-4.0": ["1.3.1", "1.3.2", "1.4.1"],
    "gdpr": ["Art. 32(1)(b)"],
    "sox-itgc": ["ITGC-APD"],
}
NO_EGRESS = {
    "nist-800-53-r5": ["SC-7(4)", "SC-7(7)", "AC-4(21)"],
    "pci-dss-4.0": ["1.3.2", "1.4.2"],
    "gdpr": ["Art. 25(1)"],
}
HARDENING = {
    "nist-800-53-r5": ["CM-6", "CM-7"],
    "pci-dss-4.0": ["2.2.1"],
    "sox-itgc": ["ITGC-CO"],
}
AT_REST = {
    "nist-800-53-r5": ["SC-28", "SC-28(1)"],
    "hipaa": ["164.312(a)(2)(iv)"],
    "pci-dss-4.0": ["3.5.1"],
    "gdpr": ["Art. 32(1)(a)"],
    "sox-itgc": ["ITGC-APD"],
}
KEY_MANAGEMENT = {
    "nist-800-53-r5": ["SC-12", "SC-12(1)"],
    "hipaa": ["164.312(a)(2)(iv)"],
    "pci-dss-4.0": ["3.6.1", "3.7.4"],
    "gdpr": ["Art. 32(1)(a)"],
}
IN_TRANSIT = {
    "nist-800-53-r5": ["SC-8", "SC-8(1)"],
    "hipaa": ["164.312(e)(1)", "164.312(e)(2)(ii)"],
    "pci-dss-4.0": ["4.2.1"],
    "gdpr": ["Art. 32(1)(a)"],
}
AUDIT_LOGGING = {
    "nist-800-53-r5": ["AU-2", "AU-3", "AU-12"],
    "hipaa": ["164.312(b)"],
    "pci-dss-4.0": ["10.2.1"],
    "gdpr": ["Art. 30", "Art. 32(1)(d)"],
    "sox-itgc": ["ITGC-CO"],
}
LOG_RETENTION = {
    "nist-800-53-r5": ["AU-11"],
    "hipaa": ["164.316(b)(2)(i)"],
    "pci-dss-4.0": ["10.5.1"],
    "sox-itgc": ["ITGC-CO"],
}
LOG_PROTECTION = {
    "nist-800-53-r5": ["AU-9", "AU-9(4)"],
    "hipaa": ["164.312(c)(1)"],
    "pci-dss-4.0": ["10.3.2", "10.3.3"],
    "sox-itgc": ["ITGC-CO"],
}
INTEGRITY = {
    "nist-800-53-r5": ["SI-7", "AU-9(3)"],
    "hipaa": ["164.312(c)(1)", "164.312(c)(2)"],
    "pci-dss-4.0": ["10.3.4"],
    "sox-itgc": ["ITGC-CO"],
}
MONITORING = {
    "nist-800-53-r5": ["AU-6", "AU-6(3)", "SI-4"],
    "hipaa": ["164.308(a)(1)(ii)(D)"],
    "pci-dss-4.0": ["10.4.1"],
    "gdpr": ["Art. 33"],
    "sox-itgc": ["ITGC-CO"],
}
THREAT_DETECTION = {
    "nist-800-53-r5": ["SI-4", "SI-3", "IR-4"],
    "hipaa": ["164.308(a)(1)(ii)(D)", "164.308(a)(6)(ii)"],
    "pci-dss-4.0": ["11.5.1", "5.2.1"],
    "gdpr": ["Art. 33"],
    "sox-itgc": ["ITGC-CO"],
}
VULNERABILITY = {
    "nist-800-53-r5": ["RA-5", "SI-2"],
    "hipaa": ["164.308(a)(1)(ii)(A)"],
    "pci-dss-4.0": ["6.3.1", "11.3.1"],
}
DATA_DISCOVERY = {
    "nist-800-53-r5": ["CM-12", "RA-2", "PM-5(1)"],
    "hipaa": ["164.308(a)(1)(ii)(A)"],
    "pci-dss-4.0": ["12.5.2"],
    "gdpr": ["Art. 30", "Art. 35"],
}
LEAST_PRIVILEGE = {
    "nist-800-53-r5": ["AC-3", "AC-6"],
    "hipaa": ["164.312(a)(1)"],
    "pci-dss-4.0": ["7.2.1", "7.2.2"],
    "gdpr": ["Art. 25(2)", "Art. 32(1)(b)"],
    "sox-itgc": ["ITGC-APD"],
}
AUTHENTICATION = {
    "nist-800-53-r5": ["IA-2", "IA-9", "AC-3"],
    "hipaa": ["164.312(d)"],
    "pci-dss-4.0": ["8.3.1"],
    "gdpr": ["Art. 32(1)(b)"],
    "sox-itgc": ["ITGC-APD"],
}
PUBLIC_ACCESS = {
    "nist-800-53-r5": ["AC-3", "AC-21", "SC-7"],
    "hipaa": ["164.312(a)(1)"],
    "pci-dss-4.0": ["1.4.1", "7.2.1"],
    "gdpr": ["Art. 25(2)", "Art. 32(1)(b)"],
    "sox-itgc": ["ITGC-APD"],
}
RECOVERY = {
    "nist-800-53-r5": ["CP-9", "CP-10"],
    "hipaa": ["164.308(a)(7)(ii)(A)", "164.310(d)(2)(iv)"],
    "gdpr": ["Art. 32(1)(c)"],
    "sox-itgc": ["ITGC-CO"],
}
CHANGE_CONTROL = {
    "nist-800-53-r5": ["CM-3", "CM-5"],
    "pci-dss-4.0": ["6.5.1"],
    "sox-itgc": ["ITGC-PC"],
}
IMMUTABILITY = {
    "nist-800-53-r5": ["AU-9", "SI-7", "CP-9(8)"],
    "hipaa": ["164.312(c)(1)"],
    "pci-dss-4.0": ["10.3.3"],
    "gdpr": ["Art. 5(1)(f)"],
    "sox-itgc": ["ITGC-CO"],
}
AVAILABILITY = {
    "nist-800-53-r5": ["CP-7", "CP-10", "SC-6", "SC-36"],
    "hipaa": ["164.308(a)(7)(ii)(B)", "164.308(a)(7)(ii)(C)"],
    "gdpr": ["Art. 32(1)(b)", "Art. 32(1)(c)"],
    "sox-itgc": ["ITGC-CO"],
}
RESIDENCY = {
    "nist-800-53-r5": ["SA-9(5)", "PL-8"],
    "gdpr": ["Art. 44", "Art. 46"],
}
DOS = {
    "nist-800-53-r5": ["SC-5", "SC-7", "SI-10"],
    "pci-dss-4.0": ["6.4.1", "6.4.2"],
    "gdpr": ["Art. 32(1)(b)"],
}
ALERTING = {
    "nist-800-53-r5": ["SI-4(5)", "AU-5", "IR-6"],
    "hipaa": ["164.308(a)(6)(ii)"],
    "pci-dss-4.0": ["10.7.2"],
    "sox-itgc": ["ITGC-CO"],
}
# Operations (policies/rules/operations.py): watching the service for unusual behaviour, and the
# resources (money) it is given.
ANOMALY_MONITORING = {
    "nist-800-53-r5": ["SI-4", "SI-4(11)", "CA-7"],
    "hipaa": ["164.308(a)(1)(ii)(D)"],
    "pci-dss-4.0": ["10.4.1", "10.7.2"],
    "sox-itgc": ["ITGC-CO"],
}
RESOURCE_ALLOCATION = {
    "nist-800-53-r5": ["SA-2", "PM-3"],
    "sox-itgc": ["ITGC-CO"],
}
