from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def no_bad_names(args, report_violation):
    if args.name == "bad":
        report_violation(f"resource named bad (location {args.props.get('location')})")


PolicyPack(
    name="tiny",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(name="test-name-not-bad", description="d", validate=no_bad_names)
    ],
)
