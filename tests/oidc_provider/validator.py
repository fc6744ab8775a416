from oauth2_provider.oauth2_validators import OAuth2Validator


class GroupsClaimValidator(OAuth2Validator):
    """Adds the user's name, e-mail and groups (the provider's Django groups) to the ID token and user info."""

    oidc_claim_scope = None  # every claim, whatever the scopes

    def get_additional_claims(self, request):
        user = request.user
        return {"preferred_username": user.username, "email": user.email,
                "groups": sorted(g.name for g in user.groups.all())}
