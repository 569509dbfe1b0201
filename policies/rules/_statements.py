"""How a policy statement is read, once for every rule that judges one: whom it lets in (any
principal, an AWS service), whether a condition limits who, and whether it grants administrator
access.

Any principal: `"Principal": "*"`, `{"AWS": "*"}` (or any principal value with a wildcard), and
`NotPrincipal` in an Allow (everyone but the principals it names). Such an Allow is open unless
one of its conditions LIMITS who, per the IAM User Guide's global condition context keys
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):

- the caller's identity: aws:PrincipalAccount, aws:PrincipalOrgID, aws:PrincipalOrgPaths,
  aws:PrincipalArn, aws:userid;
- the resource an AWS service acts for: aws:SourceAccount, aws:SourceArn, aws:SourceOrgID,
  aws:SourceOrgPaths, aws:SourceOwner (only service principals acting for that source match);
- the network the request comes through: aws:SourceVpc, aws:SourceVpce, aws:SourceVpcArn,
  aws:VpceAccount, aws:VpceOrgID, aws:VpceOrgPaths;
- where the policy kind gives them a meaning: kms:CallerAccount in key policies (the AWS KMS
  Developer Guide's "kms:CallerAccount"; kms:ViaService alone names a service, not whose
  request it is), s3:DataAccessPointAccount / s3:DataAccessPointArn in bucket and access point
  policies (access is delegated to that account's access points and their own policies), and in
  VPC endpoint policies aws:ResourceAccount / aws:ResourceOrgID / aws:ResourceOrgPaths (which
  resources the endpoint reaches: the data perimeter) and aws:PrincipalIsAWSService true.
  In a policy attached to the resource itself aws:ResourceAccount is always that resource's own
  account, so there it limits nothing.

A condition limits only when it must hold: a positive operator (StringEquals, StringLike,
ArnEquals, ArnLike and their ForAnyValue forms; Bool for aws:PrincipalIsAWSService), never a
negated one (StringNotEquals admits everyone it does not name), never `...IfExists` (a request
without the key passes) or ForAllValues (true when the key is absent), and every value concrete:
an account is twelve digits, an organization `o-...`, an ARN names its account (or, for ARNs
without one such as S3's, names the resource without a wildcard). Conditions on anything else
(aws:SecureTransport, aws:UserAgent, aws:SourceIp, aws:MultiFactorAuthPresent, principal tags
any account can set) do not say who. Values unknown during a preview count as set.

A VPC endpoint is reached only from inside its VPC, and for a gateway endpoint AWS requires
`"Principal": "*"` (the AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint
policies"); requests to AWS-owned buckets through it are signed by AWS's own accounts
(presigned URLs). So in an endpoint policy a statement that names its resources (no `*`
resource) limits what the endpoint reaches, which is the perimeter there.

Deny statements never open anything.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Optional

from policies.model import as_list, is_unknown, statements

# Policy kinds: what a document is attached to; messages and exemptions name them.
KEY_POLICY = "key policy"
BUCKET_POLICY = "bucket policy"
TRUST_POLICY = "trust policy"
ENDPOINT_POLICY = "endpoint policy"
ACCESS_POINT_POLICY = "access point policy"
PERMISSION = "permission"  # Lambda, Lambda layer and EventBridge permissions (not documents)

# -- identity policies: the types that grant a principal permissions ---------------------------
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
IAM_GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
POLICY_ATTACHMENTS = (IAM_ROLE_POLICY_ATTACHMENT, IAM_USER_POLICY_ATTACHMENT, IAM_GROUP_POLICY_ATTACHMENT,
                      IAM_POLICY_ATTACHMENT)

# AWS managed policies that allow every action, or every action but a few, on every resource
# (their documents, AWS Managed Policy Reference): attaching one is administrator access.
ADMINISTRATOR_MANAGED_POLICIES: dict[str, str] = {
    "AdministratorAccess": 'Allow Action "*" on Resource "*"',
    "PowerUserAccess": 'Allow NotAction iam:*, organizations:*, account:* on Resource "*"',
}
_MANAGED_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?([A-Za-z0-9+=,.@_-]+)$")

_ALL_ACTIONS = frozenset({"*", "*:*"})

# -- condition keys that limit who (lower-case: IAM compares condition keys case-insensitively) --
ACCOUNT, ORG, ORG_PATH, ARN, ID, TRUE = "account", "org", "org-path", "arn", "id", "true"

SOURCE_KEYS: dict[str, str] = {
    "aws:sourceaccount": ACCOUNT, "aws:sourcearn": ARN, "aws:sourceorgid": ORG, "aws:sourceorgpaths": ORG_PATH,
    "aws:sourceowner": ACCOUNT,
}
_PRINCIPAL_KEYS: dict[str, str] = {
    "aws:principalaccount": ACCOUNT, "aws:principalorgid": ORG, "aws:principalorgpaths": ORG_PATH,
    "aws:principalarn": ARN, "aws:userid": ID,
}
_NETWORK_KEYS: dict[str, str] = {
    "aws:sourcevpc": ID, "aws:sourcevpce": ID, "aws:sourcevpcarn": ARN, "aws:vpceaccount": ACCOUNT,
    "aws:vpceorgid": ORG, "aws:vpceorgpaths": ORG_PATH,
}
_BY_KIND: dict[str, dict[str, str]] = {
    KEY_POLICY: {"kms:calleraccount": ACCOUNT},
    BUCKET_POLICY: {"s3:dataaccesspointaccount": ACCOUNT, "s3:dataaccesspointarn": ARN},
    ACCESS_POINT_POLICY: {"s3:dataaccesspointaccount": ACCOUNT, "s3:dataaccesspointarn": ARN},
    ENDPOINT_POLICY: {"aws:resourceaccount": ACCOUNT, "aws:resourceorgid": ORG, "aws:resourceorgpaths": ORG_PATH,
                      "aws:principalisawsservice": TRUE},
}
# The encryption context CloudTrail and CloudWatch Logs put on their KMS requests names the
# trail or log group, so it limits their service principals to this account's resources (the
# CloudTrail and CloudWatch Logs user guides' key policies use it for exactly that).
_SERVICE_CONTEXT_KEY = re.compile(r"^kms:encryptioncontext:aws:[a-z0-9-]+:arn$")

_POSITIVE = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"})


def limiting_keys(kind: str) -> dict[str, str]:
    """The condition keys that limit who in a policy of `kind`, with the value each must have."""
    return {**_PRINCIPAL_KEYS, **SOURCE_KEYS, **_NETWORK_KEYS, **_BY_KIND.get(kind, {})}


# -- statements ---------------------------------------------------------------------------------
def allows(stmt: Mapping[str, Any]) -> bool:
    return stmt.get("Effect") == "Allow"


def principal_values(stmt: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Principal type -> values (`"*"` reads as {"*": ["*"]}); NotPrincipal is not here."""
    principal = stmt.get("Principal")
    if principal is None:
        return {}
    if isinstance(principal, Mapping):
        return {str(k): as_list(v) for k, v in principal.items()}
    return {"*": as_list(principal)}


def any_principal(stmt: Mapping[str, Any]) -> bool:
    """The statement names every principal: "*", {"AWS": "*"} (any wildcard in a principal), or
    NotPrincipal, which in an Allow admits everyone it does not name."""
    if "NotPrincipal" in stmt:
        return True
    return any(isinstance(v, str) and not is_unknown(v) and "*" in v
               for values in principal_values(stmt).values() for v in values)


def service_principals(stmt: Mapping[str, Any]) -> list[str]:
    """The AWS service principals (`logs.eu-west-1.amazonaws.com`) the statement names."""
    return [str(s) for s in principal_values(stmt).get("Service", []) if isinstance(s, str) and not is_unknown(s)]


def _conditions(stmt: Mapping[str, Any]) -> Iterable[tuple[str, str, list[Any]]]:
    """(operator, key, values) for every condition of the statement."""
    block = stmt.get("Condition")
    if not isinstance(block, Mapping):
        return
    for operator, pairs in block.items():
        if isinstance(pairs, Mapping):
            for key, values in pairs.items():
                yield str(operator), str(key), as_list(values)


def _must_hold(operator: str) -> Optional[str]:
    """The base operator of a condition that must hold for the statement to apply, or None for
    one that a request can pass without the key (IfExists, ForAllValues) or that negates."""
    op = operator.lower()
    if op.endswith("ifexists") or op.startswith("forallvalues:"):
        return None
    return op.removeprefix("foranyvalue:")


def _concrete(value: Any, shape: str) -> bool:
    """`value` names one account / organization / ARN / identifier, not a wildcard."""
    if is_unknown(value):
        return True
    if shape == TRUE:
        return value is True or str(value).lower() == "true"
    if not isinstance(value, str) or not value:
        return False
    if shape == ACCOUNT:
        return bool(re.fullmatch(r"\d{12}", value))
    if shape == ORG:
        return bool(re.fullmatch(r"o-[a-z0-9]+", value))
    if shape == ORG_PATH:
        return bool(re.match(r"o-[a-z0-9]+/", value))
    if shape == ARN:
        return concrete_arn(value)
    return value[0] not in "*?"


def concrete_arn(value: Any) -> bool:
    """An ARN that names its account (twelve digits), or, for an ARN without one (S3), names
    its resource without a wildcard in the first segment. Unknown values count as concrete."""
    if is_unknown(value):
        return True
    if not isinstance(value, str):
        return False
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[2] or "*" in parts[2]:
        return False
    account, resource = parts[4], parts[5]
    if account:
        return bool(re.fullmatch(r"\d{12}", account))
    head = resource.split("/", 1)[0]
    return bool(head) and not any(c in head for c in "*?")


def _holds(stmt: Mapping[str, Any], keys: Mapping[str, str], pattern: Optional[re.Pattern] = None) -> bool:
    for operator, key, values in _conditions(stmt):
        op = _must_hold(operator)
        name = key.lower()
        shape = keys.get(name) or (ARN if pattern is not None and pattern.match(name) else None)
        if op is None or shape is None or not values:
            continue
        if (op in _POSITIVE or (op == "bool" and shape == TRUE)) and all(_concrete(v, shape) for v in values):
            return True
    return False


def limits_who(stmt: Mapping[str, Any], kind: str) -> bool:
    """A condition of the statement limits who may use it (see the module docstring)."""
    return _holds(stmt, limiting_keys(kind))


def limits_source(stmt: Mapping[str, Any]) -> bool:
    """A condition limits the AWS service to acting for named sources: aws:SourceArn,
    aws:SourceAccount, aws:SourceOrgID/OrgPaths, aws:SourceOwner, or the encryption context
    CloudTrail and CloudWatch Logs put on their KMS requests (the confused-deputy guard)."""
    return _holds(stmt, SOURCE_KEYS, _SERVICE_CONTEXT_KEY)


def names_resources(stmt: Mapping[str, Any]) -> bool:
    """The statement's Resource names specific resources: no "*", no NotResource, and no ARN
    whose resource part starts with a wildcard (`arn:aws:s3:::*`)."""
    if "NotResource" in stmt:
        return False
    resources = as_list(stmt.get("Resource"))
    if not resources:
        return False
    for value in resources:
        if is_unknown(value):
            continue
        if not isinstance(value, str) or value == "*":
            return False
        parts = value.split(":", 5)
        if len(parts) != 6 or parts[5][:1] in ("*", "?", ""):
            return False
    return True


def open_to_anyone(stmt: Mapping[str, Any], kind: str) -> bool:
    """An Allow for any principal that no condition limits (in an endpoint policy: nor a list
    of named resources)."""
    if not allows(stmt) or not any_principal(stmt) or limits_who(stmt, kind):
        return False
    return not (kind == ENDPOINT_POLICY and names_resources(stmt))


def open_statements(doc: Optional[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [s for s in statements(doc) if open_to_anyone(s, kind)]


def unlimited_services(stmt: Mapping[str, Any]) -> list[str]:
    """The service principals an Allow lets act without a source condition."""
    if not allows(stmt) or limits_source(stmt):
        return []
    return service_principals(stmt)


def describe(stmt: Mapping[str, Any], index: int = 0) -> str:
    """`statement "Sid" (Principal {...}, Action [...])` for messages (statements are numbered
    from 1 where they have no Sid)."""
    sid = stmt.get("Sid")
    label = f'statement "{sid}"' if sid else f"statement {index + 1}"
    parts = []
    if "NotPrincipal" in stmt:
        parts.append(f"NotPrincipal {_short(stmt['NotPrincipal'])}")
    elif "Principal" in stmt:
        parts.append(f"Principal {_short(stmt['Principal'])}")
    parts.append(f"NotAction {_short(stmt['NotAction'])}" if "NotAction" in stmt else f"Action {_short(stmt.get('Action'))}")
    return f"{label} ({', '.join(parts)})"


def describe_open(doc: Optional[Mapping[str, Any]], kind: str) -> list[str]:
    return [describe(s, i) for i, s in enumerate(statements(doc)) if open_to_anyone(s, kind)]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


# -- administrator access -------------------------------------------------------------------------
def administrator_statement(stmt: Mapping[str, Any]) -> Optional[str]:
    """How an Allow grants every action on every resource, or None. Every action: Action "*"
    (or "*:*"), or NotAction, which allows everything it does not list, services AWS adds later
    included (the IAM User Guide, "IAM JSON policy elements: NotAction"). Every resource:
    Resource "*", or NotResource."""
    if not allows(stmt):
        return None
    if "NotAction" in stmt:
        actions = f"every action but {', '.join(map(str, as_list(stmt['NotAction'])))} (NotAction)"
    elif any(a in _ALL_ACTIONS for a in as_list(stmt.get("Action"))):
        actions = 'Action "*"'
    else:
        return None
    if "NotResource" in stmt:
        return f"{actions} on every resource but {', '.join(map(str, as_list(stmt['NotResource'])))} (NotResource)"
    if "*" in as_list(stmt.get("Resource")):
        return f'{actions} on Resource "*"'
    return None


def administrator_managed_policy(arn: Any) -> Optional[str]:
    """The name of the AWS managed administrator policy `arn` names, or None."""
    match = _MANAGED_POLICY_ARN.match(arn) if isinstance(arn, str) else None
    name = match.group(1) if match else None
    return name if name in ADMINISTRATOR_MANAGED_POLICIES else None

