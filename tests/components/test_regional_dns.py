"""RegionalDns: a health check per region (HTTPS on the stage, or an alarm), and with a domain
a regional certificate, custom domain, base path mapping and a latency or failover record."""

import pytest

from blueprints.plan.engine import run_program
from components.regional_dns import RegionalDns, RegionalDnsArgs
from tests.components.serving_stack import one, render

DOMAIN = {"domain_name": "api.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}


def test_https_health_check_probes_the_stage_health_route():
    plan = render()
    check = one(plan, "aws:route53/healthCheck:HealthCheck").inputs
    api = one(plan, "aws:apigateway/restApi:RestApi")
    assert check["type"] == "HTTPS" and check["port"] == 443
    assert check["fqdn"] == f"{api.id}.execute-api.eu-west-1.amazonaws.com"
    assert check["resourcePath"] == "/v1/health"
    assert not plan.of_type("aws:route53/record:Record")


def test_alarm_health_check_uses_the_no_healthy_backend_alarm():
    plan = render(alarm_health=True, api={"health_route": False})
    check = one(plan, "aws:route53/healthCheck:HealthCheck").inputs
    alarm = one(plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "svc-alarms-no-healthy-backend")
    assert check["type"] == "CLOUDWATCH_METRIC"
    assert (check["cloudwatchAlarmName"], check["cloudwatchAlarmRegion"]) == (alarm.inputs["name"], "eu-west-1")


def test_custom_domain_gets_a_validated_certificate_and_a_tls12_regional_domain():
    plan = render(dns=DOMAIN)
    cert = one(plan, "aws:acm/certificate:Certificate")
    assert cert.inputs["validationMethod"] == "DNS" and cert.inputs["domainName"] == "api.example.com"
    validation = one(plan, "aws:route53/record:Record", "svc-dns-cert-validation")
    option = cert.outputs["domainValidationOptions"][0]
    assert validation.inputs["name"] == option["resourceRecordName"]
    assert validation.inputs["records"] == [option["resourceRecordValue"]]
    domain = one(plan, "aws:apigateway/domainName:DomainName")
    assert domain.inputs["securityPolicy"] == "TLS_1_2"
    assert domain.inputs["endpointConfiguration"] == {"types": "REGIONAL"}
    assert domain.inputs["regionalCertificateArn"] == cert.outputs["arn"]
    mapping = one(plan, "aws:apigateway/basePathMapping:BasePathMapping")
    assert mapping.inputs["stageName"] == "v1"


def test_latency_record_by_default_with_the_regions_health_check():
    plan = render(dns=DOMAIN)
    record = one(plan, "aws:route53/record:Record", "svc-dns-record")
    check = one(plan, "aws:route53/healthCheck:HealthCheck")
    assert record.inputs["latencyRoutingPolicies"] == [{"region": "eu-west-1"}]
    assert record.inputs["setIdentifier"] == "eu-west-1" and record.inputs["healthCheckId"] == check.id
    domain = one(plan, "aws:apigateway/domainName:DomainName")
    assert record.inputs["aliases"][0]["name"] == domain.outputs["regionalDomainName"]
    assert "failoverRoutingPolicies" not in record.inputs


def test_failover_record_carries_the_regions_role():
    plan = render(dns={**DOMAIN, "routing": "failover", "failover_role": "SECONDARY"})
    record = one(plan, "aws:route53/record:Record", "svc-dns-record")
    assert record.inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert "latencyRoutingPolicies" not in record.inputs


def test_a_domain_without_a_zone_is_rejected():
    def program():
        RegionalDns("d", RegionalDnsArgs(api=None, domain_name="api.example.com"))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="go together"):
        run_program(program, stack="dns-bad", config={"aws:region": "eu-west-1"}, secret_keys=[])


def test_a_region_validating_against_another_regions_record_writes_none():
    fqdn = "_abc.api.example.com"
    plan = render(dns={**DOMAIN, "validation_record_fqdn": fqdn})
    assert [r.name for r in plan.of_type("aws:route53/record:Record")] == ["svc-dns-record"]
    validation = one(plan, "aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["validationRecordFqdns"] == [fqdn]
    assert one(plan, "aws:apigateway/domainName:DomainName").inputs["regionalCertificateArn"] == \
        one(plan, "aws:acm/certificate:Certificate").outputs["arn"]


def test_the_region_owning_the_validation_record_validates_with_it():
    plan = render(dns=DOMAIN)
    record = one(plan, "aws:route53/record:Record", "svc-dns-cert-validation")
    validation = one(plan, "aws:acm/certificateValidation:CertificateValidation")
    assert validation.inputs["validationRecordFqdns"] == [record.outputs["fqdn"]]


def test_a_validation_record_without_a_domain_is_rejected():
    def program():
        RegionalDns("d", RegionalDnsArgs(api=None, validation_record_fqdn="x.example.com"))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="needs domain_name"):
        run_program(program, stack="dns-bad", config={"aws:region": "eu-west-1"}, secret_keys=[])
