"""The regulations a stack may declare (`compliance.frameworks`) and the controls of each that the
evidence report (`blueprint check --report compliance --framework F`) walks, as data.

A framework's catalogue is the set of its controls that concern the infrastructure this project
builds: every control a rule evidences (policies/controls.py) and, named here so that they are
reported as gaps rather than hidden, the ones no rule can evidence from a plan (multi-factor
authentication of people, incident-response plans, penetration tests, training). Titles are short
paraphrases of the control names in the framework's own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from policies.controls import FRAMEWORKS as CONTROL_SETS


@dataclass(frozen=True)
class Framework:
    key: str  # the spec's name for it (compliance.frameworks)
    title: str
    controls_key: str  # the key of its control ids in a rule's `controls` (policies/controls.py)
    # The Security Hub standard that checks it after deploy (`standards/<this>` in the region), if any.
    security_hub_standard: Optional[str]
    catalogue: Mapping[str, str]  # control id -> title


NIST_CATALOGUE = {
    "AC-2": "Account Management",
    "AC-3": "Access Enforcement",
    "AC-4": "Information Flow Enforcement",
    "AC-4(21)": "Physical or Logical Separation of Information Flows",
    "AC-5": "Separation of Duties",
    "AC-6": "Least Privilege",
    "AC-6(10)": "Prohibit Non-privileged Users from Executing Privileged Functions",
    "AC-21": "Information Sharing",
    "AT-2": "Literacy Training and Awareness",
    "AU-2": "Event Logging",
    "AU-3": "Content of Audit Records",
    "AU-5": "Response to Audit Logging Process Failures",
    "AU-6": "Audit Record Review, Analysis, and Reporting",
    "AU-6(3)": "Correlate Audit Record Repositories",
    "AU-9": "Protection of Audit Information",
    "AU-9(2)": "Store on Separate Physical Systems or Components",
    "AU-9(3)": "Cryptographic Protection of Audit Information",
    "AU-9(4)": "Access by Subset of Privileged Users",
    "AU-11": "Audit Record Retention",
    "AU-12": "Audit Record Generation",
    "CM-2": "Baseline Configuration",
    "CM-3": "Configuration Change Control",
    "CM-4(1)": "Separate Test Environments",
    "CM-5": "Access Restrictions for Change",
    "CM-6": "Configuration Settings",
    "CM-7": "Least Functionality",
    "CM-12": "Information Location",
    "CP-4": "Contingency Plan Testing",
    "CP-7": "Alternate Processing Site",
    "CP-9": "System Backup",
    "CP-9(8)": "Cryptographic Protection of Backups",
    "CP-10": "System Recovery and Reconstitution",
    "IA-2": "Identification and Authentication (Organizational Users)",
    "IA-2(1)": "Multi-factor Authentication to Privileged Accounts",
    "IA-9": "Service Identification and Authentication",
    "IR-4": "Incident Handling",
    "IR-6": "Incident Reporting",
    "IR-8": "Incident Response Plan",
    "PL-8": "Security and Privacy Architectures",
    "PM-5(1)": "Inventory of Personally Identifiable Information",
    "PT-2": "Authority to Process Personally Identifiable Information",
    "RA-2": "Security Categorization",
    "RA-5": "Vulnerability Monitoring and Scanning",
    "SA-9(5)": "Processing, Storage, and Service Location",
    "SC-5": "Denial-of-service Protection",
    "SC-6": "Resource Availability",
    "SC-7": "Boundary Protection",
    "SC-7(4)": "External Telecommunications Services",
    "SC-7(5)": "Deny by Default, Allow by Exception",
    "SC-7(7)": "Split Tunneling for Remote Devices",
    "SC-8": "Transmission Confidentiality and Integrity",
    "SC-8(1)": "Cryptographic Protection in Transmission",
    "SC-12": "Cryptographic Key Establishment and Management",
    "SC-12(1)": "Availability of Keys",
    "SC-13": "Cryptographic Protection",
    "SC-28": "Protection of Information at Rest",
    "SC-28(1)": "Cryptographic Protection at Rest",
    "SC-32": "System Partitioning",
    "SC-36": "Distributed Processing and Storage",
    "SC-39": "Process Isolation",
    "SI-2": "Flaw Remediation",
    "SI-3": "Malicious Code Protection",
    "SI-4": "System Monitoring",
    "SI-4(5)": "System-generated Alerts",
    "SI-7": "Software, Firmware, and Information Integrity",
    "SI-10": "Information Input Validation",
    "SI-15": "Information Output Filtering",
    "SR-3": "Supply Chain Controls and Processes",
}

HIPAA_CATALOGUE = {
    "164.308(a)(1)(ii)(A)": "Risk analysis",
    "164.308(a)(1)(ii)(B)": "Risk management",
    "164.308(a)(1)(ii)(D)": "Information system activity review",
    "164.308(a)(5)(i)": "Security awareness and training",
    "164.308(a)(6)(ii)": "Security incidents: response and reporting",
    "164.308(a)(7)(ii)(A)": "Data backup plan",
    "164.308(a)(7)(ii)(B)": "Disaster recovery plan",
    "164.308(a)(7)(ii)(C)": "Emergency mode operation plan",
    "164.308(b)(1)": "Business associate contracts",
    "164.310(d)(2)(iv)": "Data backup and storage",
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(i)": "Unique user identification",
    "164.312(a)(2)(iv)": "Encryption and decryption",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(c)(2)": "Mechanism to authenticate electronic protected health information",
    "164.312(d)": "Person or entity authentication",
    "164.312(e)(1)": "Transmission security",
    "164.312(e)(2)(ii)": "Encryption in transmission",
    "164.316(b)(2)(i)": "Retain documentation for six years",
}

PCI_DSS_CATALOGUE = {
    "1.2.1": "Configuration standards for network security control rulesets",
    "1.3.1": "Inbound traffic to the CDE is restricted",
    "1.3.2": "Outbound traffic from the CDE is restricted",
    "1.4.1": "Network security controls between trusted and untrusted networks",
    "1.4.2": "Inbound traffic from untrusted to trusted networks is restricted",
    "2.2.1": "Configuration standards are developed, implemented and maintained",
    "2.2.4": "Only necessary services, protocols and functions are enabled",
    "3.4.1": "PAN is masked when displayed",
    "3.5.1": "PAN is rendered unreadable wherever it is stored",
    "3.6.1": "Cryptographic keys are protected against disclosure and misuse",
    "3.7.4": "Keys are changed at the end of their cryptoperiod",
    "4.2.1": "Strong cryptography protects PAN in transmission over open networks",
    "5.2.1": "An anti-malware solution is deployed",
    "6.2.4": "Software engineering techniques prevent common software attacks",
    "6.3.1": "Security vulnerabilities are identified and managed",
    "6.4.1": "Public-facing web applications are protected against attacks",
    "6.4.2": "An automated solution detects and prevents web-based attacks",
    "6.5.1": "Changes to system components are managed",
    "6.5.3": "Pre-production environments are separated from production",
    "6.5.4": "Roles and functions are separated between production and pre-production",
    "7.2.1": "An access control model is defined",
    "7.2.2": "Access follows job classification and least privilege",
    "8.3.1": "All user and administrator access is authenticated",
    "8.4.2": "Multi-factor authentication for all access into the CDE",
    "10.2.1": "Audit logs are enabled and active",
    "10.3.2": "Audit log files are protected from modification",
    "10.3.3": "Audit log files are promptly backed up to a central server",
    "10.3.4": "Change detection on audit logs",
    "10.4.1": "Audit logs are reviewed at least daily",
    "10.5.1": "Audit log history is retained for at least 12 months",
    "10.6.1": "System clocks are synchronized",
    "10.7.2": "Failures of critical security controls are detected and alerted",
    "11.3.1": "Internal vulnerability scans are performed",
    "11.4.1": "Penetration testing is performed",
    "11.5.1": "Intrusion detection or prevention",
    "12.5.2": "PCI DSS scope is documented and confirmed",
    "12.10.1": "An incident response plan exists",
}

GDPR_CATALOGUE = {
    "Art. 5(1)(f)": "Integrity and confidentiality",
    "Art. 17": "Right to erasure",
    "Art. 25(1)": "Data protection by design",
    "Art. 25(2)": "Data protection by default",
    "Art. 28": "Processor obligations",
    "Art. 30": "Records of processing activities",
    "Art. 32(1)(a)": "Pseudonymisation and encryption",
    "Art. 32(1)(b)": "Confidentiality, integrity, availability and resilience",
    "Art. 32(1)(c)": "Timely restoration of availability and access",
    "Art. 32(1)(d)": "Regular testing of the measures' effectiveness",
    "Art. 33": "Notification of a personal data breach",
    "Art. 35": "Data protection impact assessment",
    "Art. 44": "General principle for transfers",
    "Art. 46": "Transfers subject to appropriate safeguards",
}

SOX_CATALOGUE = {
    "ITGC-APD": "Access to programs and data",
    "ITGC-PC": "Program changes",
    "ITGC-PD": "Program development",
    "ITGC-CO": "Computer operations",
}

FRAMEWORKS: dict[str, Framework] = {
    "gdpr": Framework("gdpr", CONTROL_SETS["gdpr"], "gdpr", None, GDPR_CATALOGUE),
    "hipaa": Framework("hipaa", CONTROL_SETS["hipaa"], "hipaa", None, HIPAA_CATALOGUE),
    # Security Hub standards reference ("Security Hub standards reference"; the ARNs are
    # arn:<partition>:securityhub:<region>::standards/<standard>).
    "pci-dss": Framework("pci-dss", "PCI DSS v4.0.1", "pci-dss-4.0", "pci-dss/v/4.0.1", PCI_DSS_CATALOGUE),
    "sox": Framework("sox", CONTROL_SETS["sox-itgc"], "sox-itgc", None, SOX_CATALOGUE),
    "nist-800-53": Framework("nist-800-53", CONTROL_SETS["nist-800-53-r5"], "nist-800-53-r5", "nist-800-53/v/5.0.0",
                             NIST_CATALOGUE),
}
FRAMEWORK_NAMES: tuple[str, ...] = tuple(FRAMEWORKS)


def get_framework(key: str) -> Framework:
    """The framework the spec calls `key`, or a ValueError naming the choices."""
    if key not in FRAMEWORKS:
        raise ValueError(f"unknown framework {key!r}; use one of {', '.join(FRAMEWORK_NAMES)}")
    return FRAMEWORKS[key]
