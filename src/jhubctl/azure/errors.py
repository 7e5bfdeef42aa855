"""Azure errors as users need them: the ARM code and message, what to fix, never a traceback."""

from __future__ import annotations

from ..errors import JhubctlError

#: What to do about the error codes operators meet most.
HINTS = {
    "AuthorizationFailed": "the identity lacks a role on that scope: Owner or Contributor + User Access Administrator",
    "AuthenticationFailed": "log in again (az login) or refresh JHUBCTL_AZURE_ACCESS_TOKEN",
    "InvalidAuthenticationToken": "the token is for another cloud or expired: check azure.arm_endpoint and log in again",
    "MissingSubscriptionRegistration": "run again: jhubctl registers the resource providers it needs first",
    "SubscriptionNotFound": "check azure.subscription_id and that the identity can see it",
    "StorageAccountAlreadyTaken": "storage account names are global: choose another storage.account_name",
    "AlreadyInUse": "the name is taken globally: choose another registry.name",
    "NetworkAclsValidationFailure": "the subnet needs the Microsoft.Storage service endpoint (the network step adds it)",
    "QuotaExceeded": "request more quota for that VM family/region, or lower aks.node_count/max_count",
    "RoleAssignmentExists": "already assigned: nothing to do",
    "InvalidTemplateDeployment": "see the message; a policy may forbid the resource",
    "RequestDisallowedByPolicy": "an Azure Policy forbids this resource: ask the policy owner or change the config",
    "InvalidAuthenticationTokenAudience": "the token is for another service: JHUBCTL_AZURE_ACCESS_TOKEN must be an "
                                          "Azure Resource Manager token",
    "LinkedAuthorizationFailed": "an identity lacks a role on a linked resource (for AKS: Network Contributor on the "
                                 "subnet or VNet); grant it and run again",
    "ServicePrincipalNotFound": "a new service principal takes minutes to replicate: run again later",
    "ServiceCidrOverlapExistingSubnetsCidr": "choose an aks.service_cidr outside every subnet of the VNet",
    "StorageAccountOperationInProgress": "another operation runs on the account: run again when it has finished",
}


class AzureError(JhubctlError):
    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint or HINTS.get(code or ""))
        self.code = code


def from_sdk(exc: Exception, what: str) -> AzureError:
    """Turn an azure-core exception into one line: `what: Code: message`."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or type(exc).__name__
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    message = " ".join(str(message).split())
    return AzureError(f"{what}: {code}: {message}", code=code)
