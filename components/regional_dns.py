"""One region's place in a multi-region API: a Route 53 health check, and for a custom domain a
regional ACM certificate, an API Gateway domain name and a latency or failover alias record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional

import pulumi
import pulumi_aws as aws

from components._base import Component, bounded_name, merge_tags
from components.rest_api import RestApi

# The provider appends a 26-character unique id to reference_name, and AWS caps the caller
# reference at 64 characters.
REFERENCE_NAME_MAX = 38

Routing = Literal["latency", "failover"]


@dataclass(frozen=True, kw_only=True)
class RegionalDnsArgs:
    api: RestApi
    """The regional REST API (and its stage) this region serves. Required."""
    health_alarm_name: Optional[pulumi.Input[str]] = None
    """A CloudWatch alarm in this region that decides health (Route 53 CLOUDWATCH_METRIC check).
    Default None: an HTTPS check on `<api-host>/<stage><health_path>` from Route 53's checkers.
    Use the alarm where the API admits no anonymous route or blocks the checkers' countries."""
    health_path: str = "/health"
    """Path probed by the HTTPS check, under the stage. Default /health."""
    domain_name: Optional[str] = None
    """Custom domain (e.g. api.example.com). Default None: health check only, no records.
    Requires `hosted_zone_id`."""
    hosted_zone_id: Optional[str] = None
    """Route 53 public hosted zone for `domain_name`. Required with it."""
    routing: Routing = "latency"
    """latency: clients go to the lowest-latency healthy region. failover: to the PRIMARY region
    while healthy, else a SECONDARY. Default latency."""
    failover_role: Literal["PRIMARY", "SECONDARY"] = "PRIMARY"
    """This region's role with failover routing. Default PRIMARY."""
    validation_record_fqdn: Optional[pulumi.Input[str]] = None
    """The certificate's DNS validation record, written by another region's RegionalDns (its
    `validation_record_fqdn` output). ACM asks for the same CNAME for one domain name in every
    region of an account, so exactly one region may own that record: otherwise destroying one
    region deletes the record the others validate with. Default None: this component writes the
    record. Only with `domain_name`."""
    tags: Mapping[str, str] = field(default_factory=dict)


class RegionalDns(Component):
    health_check_id: pulumi.Output[str]
    certificate_arn: Optional[pulumi.Output[str]]
    regional_domain_name: Optional[pulumi.Output[str]]
    record_fqdn: Optional[pulumi.Output[str]]
    validation_record_fqdn: Optional[pulumi.Output[str]]
    """The certificate's validation CNAME where this component wrote it, else None."""

    def __init__(self, name: str, args: RegionalDnsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("dns", "RegionalDns", name, opts)
        if (args.domain_name is None) != (args.hosted_zone_id is None):
            raise ValueError(f"{name}: domain_name and hosted_zone_id go together")
        if args.routing not in ("latency", "failover"):
            raise ValueError(f"{name}: routing must be latency or failover, got {args.routing!r}")
        if args.validation_record_fqdn is not None and args.domain_name is None:
            raise ValueError(f"{name}: validation_record_fqdn needs domain_name")

        if args.health_alarm_name is not None:
            health = aws.route53.HealthCheck(
                f"{name}-health",
                type="CLOUDWATCH_METRIC",
                cloudwatch_alarm_name=args.health_alarm_name,
                cloudwatch_alarm_region=self.aws_region,
                insufficient_data_health_status="LastKnownStatus",
                reference_name=bounded_name(name, REFERENCE_NAME_MAX),
                tags=merge_tags(f"{name}-health", args.tags),
                opts=self.child(),
            )
        else:
            health = aws.route53.HealthCheck(
                f"{name}-health",
                type="HTTPS",
                fqdn=args.api.api_host,
                port=443,
                resource_path=pulumi.Output.concat("/", args.api.stage_name, args.health_path),
                enable_sni=True,
                request_interval=30,
                failure_threshold=3,
                measure_latency=True,
                reference_name=bounded_name(name, REFERENCE_NAME_MAX),
                tags=merge_tags(f"{name}-health", args.tags),
                opts=self.child(),
            )
        self.health_check_id = health.id
        self.certificate_arn = self.regional_domain_name = self.record_fqdn = self.validation_record_fqdn = None
        if args.domain_name is not None:
            self._create_domain(name, args, health)
        self.register_outputs({
            "health_check_id": self.health_check_id,
            "certificate_arn": self.certificate_arn,
            "regional_domain_name": self.regional_domain_name,
            "record_fqdn": self.record_fqdn,
            "validation_record_fqdn": self.validation_record_fqdn,
        })

    def _create_domain(self, name: str, args: RegionalDnsArgs, health: aws.route53.HealthCheck) -> None:
        cert = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.domain_name,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=merge_tags(f"{name}-cert", args.tags),
            opts=self.child(),
        )
        validation_fqdn = args.validation_record_fqdn
        if validation_fqdn is None:
            option = cert.domain_validation_options.apply(lambda options: options[0])
            # ACM asks for this same CNAME for the domain in every region of the account: this
            # region owns it and the others validate against it (validation_record_fqdn).
            # allow_overwrite adopts a record left by an earlier certificate for the domain.
            validation_record = aws.route53.Record(
                f"{name}-cert-validation",
                zone_id=args.hosted_zone_id,
                name=option.apply(lambda o: o.resource_record_name),
                type=option.apply(lambda o: o.resource_record_type),
                records=[option.apply(lambda o: o.resource_record_value)],
                ttl=300,
                allow_overwrite=True,
                opts=self.child(),
            )
            validation_fqdn = self.validation_record_fqdn = validation_record.fqdn
        validation = aws.acm.CertificateValidation(
            f"{name}-cert-validated",
            certificate_arn=cert.arn,
            validation_record_fqdns=[validation_fqdn],
            opts=self.child(),
        )
        domain = aws.apigateway.DomainName(
            f"{name}-domain",
            domain_name=args.domain_name,
            regional_certificate_arn=validation.certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(types="REGIONAL"),
            security_policy="TLS_1_2",
            tags=merge_tags(f"{name}-domain", args.tags),
            opts=self.child(),
        )
        aws.apigateway.BasePathMapping(
            f"{name}-base-path",
            domain_name=domain.domain_name,
            rest_api=args.api.rest_api_id,
            stage_name=args.api.stage_name,
            opts=self.child(),
        )
        routing = {"latency_routing_policies": [aws.route53.RecordLatencyRoutingPolicyArgs(region=self.aws_region)]} \
            if args.routing == "latency" else \
            {"failover_routing_policies": [aws.route53.RecordFailoverRoutingPolicyArgs(type=args.failover_role)]}
        record = aws.route53.Record(
            f"{name}-record",
            zone_id=args.hosted_zone_id,
            name=args.domain_name,
            type="A",
            set_identifier=self.aws_region,
            health_check_id=health.id,
            aliases=[aws.route53.RecordAliasArgs(
                name=domain.regional_domain_name, zone_id=domain.regional_zone_id, evaluate_target_health=True)],
            opts=self.child(),
            **routing,
        )
        self.certificate_arn = cert.arn
        self.regional_domain_name = domain.regional_domain_name
        self.record_fqdn = record.fqdn
