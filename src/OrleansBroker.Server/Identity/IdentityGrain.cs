using System.Security.Cryptography;
using OrleansBroker.Errors;
using OrleansBroker.Identity;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Server.Identity;

/// <summary>The durable store of principals (one record; at most <see cref="IIdentityGrain.MaxPrincipals"/>). Not reentrant: one change at a time.</summary>
internal sealed class IdentityGrain(
    [PersistentState("identity", BrokerOptions.StateStorageProviderName)] IPersistentState<IdentityState> state,
    TimeProvider time)
    : Grain, IIdentityGrain, IIdentityStoreGrain
{
    /// <summary>Longest principal name: 64 characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Shortest password: 8 characters.</summary>
    public const int MinPasswordLength = 8;

    /// <summary>Longest password: 256 characters.</summary>
    public const int MaxPasswordLength = 256;

    /// <summary>Prefix of every API key, so a leaked one is easy to recognise (and to scan for).</summary>
    public const string KeyPrefix = "obk.";

    private IdentityState Store => state.State;

    public Task<IReadOnlyList<PrincipalInfo>> List() =>
        Task.FromResult<IReadOnlyList<PrincipalInfo>>([.. Store.Principals.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.ToInfo())]);

    public Task<PrincipalInfo?> Get(string name) => Task.FromResult(Store.Principals.GetValueOrDefault(name)?.ToInfo());

    public async Task<PrincipalInfo> CreateUser(string name, string password, PrincipalAccess access)
    {
        ValidateNew(name, access);
        ValidatePassword(password);
        var hash = await Task.Run(() => SecretHasher.HashPassword(password));
        return (await SaveAsync(new PrincipalRecord(name, PrincipalKind.User, access, time.GetUtcNow(), hash, 1))).ToInfo();
    }

    public async Task<PrincipalInfo> SetPassword(string name, string password)
    {
        var principal = Existing(name);
        if (principal.Kind != PrincipalKind.User)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"'{name}' is an API key: it has no password. Delete it and create a new key.");
        }

        ValidatePassword(password);
        var hash = await Task.Run(() => SecretHasher.HashPassword(password));
        return (await SaveAsync(principal with { SecretHash = hash, Stamp = principal.Stamp + 1 })).ToInfo();
    }

    public async Task<ApiKeyCreated> CreateApiKey(string name, PrincipalAccess access)
    {
        ValidateNew(name, access);
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var key = string.Concat(KeyPrefix, name, ".", secret);
        var saved = await SaveAsync(new PrincipalRecord(name, PrincipalKind.ApiKey, access, time.GetUtcNow(), SecretHasher.HashKeySecret(key), 1));
        return new ApiKeyCreated(saved.ToInfo(), key);
    }

    public async Task<PrincipalInfo> SetAccess(string name, PrincipalAccess access)
    {
        var principal = Existing(name);
        ValidateAccess(access);
        return (await SaveAsync(principal with { Access = access })).ToInfo();
    }

    public async Task<bool> Delete(string name)
    {
        if (!Store.Principals.Remove(name))
        {
            return false;
        }

        Store.Version++;
        await state.WriteStateAsync();
        return true;
    }

    public Task<IdentitySnapshot?> GetSnapshot(long knownVersion) =>
        Task.FromResult(knownVersion == Store.Version ? null : new IdentitySnapshot(Store.Version, [.. Store.Principals.Values]));

    public async Task<bool> Bootstrap(string name, string password)
    {
        if (Store.Bootstrapped || Store.Principals.Count > 0)
        {
            return false;
        }

        var hash = await Task.Run(() => SecretHasher.HashPassword(password));
        var access = new PrincipalAccess(Tenants.Default, [new TenantPermission(Tenants.Default, "*", "*", "*")], Administrator: true,
            Description: "Made at the broker's first start.");
        Store.Bootstrapped = true;
        await SaveAsync(new PrincipalRecord(name, PrincipalKind.User, access, time.GetUtcNow(), hash, 1));
        return true;
    }

    public async Task<bool> Import(string name, PrincipalKind kind, PrincipalAccess access, string secretHash)
    {
        if (Store.Principals.ContainsKey(name))
        {
            return false;
        }

        new PrincipalDefinition(name, kind, access, secretHash).Validate();
        ValidateNew(name, access);

        Store.Bootstrapped = true;
        await SaveAsync(new PrincipalRecord(name, kind, access, time.GetUtcNow(), secretHash, 1));
        return true;
    }

    private async Task<PrincipalRecord> SaveAsync(PrincipalRecord principal)
    {
        Store.Principals[principal.Name] = principal;
        Store.Version++;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not stored: read back what is, so memory never shows a change the store does not hold.
            await state.ReadStateAsync();
            throw;
        }

        return principal;
    }

    private PrincipalRecord Existing(string name) =>
        Store.Principals.GetValueOrDefault(name) ?? throw new BrokerException(BrokerErrorCode.PrincipalNotFound, $"There is no user or API key '{name}'.");

    private void ValidateNew(string name, PrincipalAccess access)
    {
        ValidateName(name);
        if (Store.Principals.ContainsKey(name))
        {
            throw new BrokerException(BrokerErrorCode.PrincipalExists, $"A user or API key '{name}' exists already.");
        }

        if (Store.Principals.Count >= IIdentityGrain.MaxPrincipals)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"The broker holds {IIdentityGrain.MaxPrincipals} principals, its limit; delete some first.");
        }

        ValidateAccess(access);
    }

    public static void ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !char.IsAsciiLetterOrDigit(name[0])
            || name.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('.' or '-' or '_')))
        {
            throw new BrokerException(BrokerErrorCode.InvalidName,
                $"A user or key name is 1 to {MaxNameLength} ASCII letters, digits, '.', '-' and '_', starting with a letter or digit; '{name}' is not.");
        }
    }

    private static void ValidatePassword(string? password)
    {
        if (password is null || password.Length < MinPasswordLength || password.Length > MaxPasswordLength)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"A password is {MinPasswordLength} to {MaxPasswordLength} characters.");
        }
    }

    public static void ValidateAccess(PrincipalAccess? access)
    {
        if (access is null || access.Permissions is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "A principal needs its tenant and permissions (an empty list for none).");
        }

        Tenants.Validate(access.Tenant);
        if (access.Description is { Length: > 256 })
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "A description is at most 256 characters.");
        }

        var tenants = new HashSet<string>(StringComparer.Ordinal);
        foreach (var permission in access.Permissions)
        {
            if (permission is null)
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions, "A permission is missing.");
            }

            Tenants.Validate(permission.Tenant);
            if (!tenants.Add(permission.Tenant))
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Tenant '{permission.Tenant}' has two permission entries; give one.");
            }

            NamePattern.Validate(permission.Manage, "manage");
            NamePattern.Validate(permission.Send, "send");
            NamePattern.Validate(permission.Receive, "receive");
        }
    }
}
