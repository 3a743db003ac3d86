namespace OrleansBroker.Identity;

/// <summary>The one place where a principal's access is decided, for every edge (HTTP, MQTT, AMQP).</summary>
public static class AccessRules
{
    /// <summary>
    /// Whether <paramref name="access"/> may do <paramref name="operation"/> on <paramref name="name"/> (the tenant's own name of a
    /// queue, topic or subscription queue) in <paramref name="tenant"/>. An administrator may do everything.
    /// </summary>
    public static bool Allows(this PrincipalAccess access, string tenant, Operation operation, string name)
    {
        ArgumentNullException.ThrowIfNull(access);
        if (access.Administrator)
        {
            return true;
        }

        if (PermissionIn(access, tenant) is not { } permission)
        {
            return false;
        }

        var pattern = operation switch
        {
            Operation.Manage => permission.Manage,
            Operation.Send => permission.Send,
            Operation.Receive => permission.Receive,
            _ => "",
        };
        return NamePattern.Matches(pattern, name);
    }

    /// <summary>Whether <paramref name="access"/> has any permission in <paramref name="tenant"/> (or is an administrator).</summary>
    public static bool Reaches(this PrincipalAccess access, string tenant)
    {
        ArgumentNullException.ThrowIfNull(access);
        return access.Administrator || PermissionIn(access, tenant) is not null;
    }

    private static TenantPermission? PermissionIn(PrincipalAccess access, string tenant)
    {
        foreach (var permission in access.Permissions)
        {
            if (string.Equals(permission.Tenant, tenant, StringComparison.Ordinal))
            {
                return permission;
            }
        }

        return null;
    }
}
