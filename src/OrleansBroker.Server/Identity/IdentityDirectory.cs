using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using OrleansBroker.Identity;

namespace OrleansBroker.Server.Identity;

/// <summary>
/// A silo's view of the principals, for its edges to check credentials against without a grain call per request. It asks
/// the identity grain for changes at most every <see cref="RefreshInterval"/> (in the background: requests go on with the
/// view they have), and at once after a change made on this silo. A password is verified with PBKDF2 once; afterwards a
/// SHA-256 of it is remembered until the password changes, so a request costs microseconds, not a key derivation.
/// The one place every edge (HTTP, MQTT, AMQP) signs callers in; <see cref="AccessRules"/> then says what they may do.
/// Thread-safe; one per silo, registered by <c>AddBroker</c>.
/// </summary>
public sealed partial class IdentityDirectory
{
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly ILogger<IdentityDirectory> _logger;

    internal IdentityDirectory(IGrainFactory grains, TimeProvider time, ILogger<IdentityDirectory> logger)
    {
        _grains = grains;
        _time = time;
        _logger = logger;
    }

    /// <summary>How old the view may grow before it is refreshed: 1 second, so a revoked key stops working within about 2 s everywhere.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    private const int MaxRemembered = 10_000;

    private readonly ConcurrentDictionary<string, long> _verified = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _derivations = new(Math.Max(1, Environment.ProcessorCount / 2));
    private View _view = new(-1, new Dictionary<string, PrincipalRecord>(StringComparer.Ordinal));
    private DateTimeOffset _refreshedAt = DateTimeOffset.MinValue;
    private Task? _refresh;
    private readonly Lock _lock = new();

    private sealed record View(long Version, IReadOnlyDictionary<string, PrincipalRecord> ByName);

    /// <summary>The principal <paramref name="name"/> signs in as with <paramref name="password"/>, or null.</summary>
    public async ValueTask<PrincipalInfo?> SignInAsync(string name, string password)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(password);
        var view = await CurrentAsync().ConfigureAwait(false);
        if (!view.ByName.TryGetValue(name, out var principal) || principal.Kind != PrincipalKind.User)
        {
            return null;
        }

        var remembered = string.Concat(name, "\n", Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(password))));
        if (_verified.TryGetValue(remembered, out var stamp) && stamp == principal.Stamp)
        {
            return principal.ToInfo();
        }

        // Key derivation is deliberately slow: at most half the cores at once, so failed sign-ins cannot starve the broker.
        await _derivations.WaitAsync().ConfigureAwait(false);
        bool valid;
        try
        {
            valid = await Task.Run(() => SecretHasher.Verify(password, principal.SecretHash)).ConfigureAwait(false);
        }
        finally
        {
            _derivations.Release();
        }

        if (!valid)
        {
            return null;
        }

        if (_verified.Count >= MaxRemembered)
        {
            _verified.Clear();
        }

        _verified[remembered] = principal.Stamp;
        return principal.ToInfo();
    }

    /// <summary>The API key principal <paramref name="key"/> (<c>obk.&lt;name&gt;.&lt;secret&gt;</c>) belongs to, or null.</summary>
    public async ValueTask<PrincipalInfo?> SignInWithKeyAsync(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var dot = key.LastIndexOf('.');
        if (!key.StartsWith(IdentityGrain.KeyPrefix, StringComparison.Ordinal) || dot <= IdentityGrain.KeyPrefix.Length)
        {
            return null;
        }

        var view = await CurrentAsync().ConfigureAwait(false);
        var name = key[IdentityGrain.KeyPrefix.Length..dot];
        return view.ByName.TryGetValue(name, out var principal) && principal.Kind == PrincipalKind.ApiKey && SecretHasher.Verify(key, principal.SecretHash)
            ? principal.ToInfo()
            : null;
    }

    /// <summary>
    /// Makes the administrator <paramref name="name"/> (every permission in every tenant) with <paramref name="password"/> if
    /// the broker has never had a principal; true when it did so now.
    /// </summary>
    public async Task<bool> BootstrapAsync(string name, string password, CancellationToken cancellationToken = default)
    {
        var made = await _grains.GetGrain<IIdentityStoreGrain>(0).Bootstrap(name, password).WaitAsync(cancellationToken).ConfigureAwait(false);
        await RefreshAsync().ConfigureAwait(false);
        return made;
    }

    /// <summary>Refreshes the view now (after a change made through this silo); returns once it holds the change.</summary>
    public Task RefreshAsync()
    {
        lock (_lock)
        {
            _refresh = LoadAsync(_refresh);
            return _refresh;
        }
    }

    private async ValueTask<View> CurrentAsync()
    {
        var view = Volatile.Read(ref _view);
        if (view.Version < 0)
        {
            await RefreshAsync().ConfigureAwait(false);
            return Volatile.Read(ref _view);
        }

        if (_time.GetUtcNow() - _refreshedAt > RefreshInterval)
        {
            lock (_lock)
            {
                if (_refresh is null || _refresh.IsCompleted)
                {
                    _refreshedAt = _time.GetUtcNow();
                    _refresh = LoadAsync(null);
                }
            }
        }

        return view;
    }

    private async Task LoadAsync(Task? previous)
    {
        if (previous is not null)
        {
            // One load at a time, in order, so an older answer never replaces a newer one.
            await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        try
        {
            var snapshot = await _grains.GetGrain<IIdentityStoreGrain>(0).GetSnapshot(Volatile.Read(ref _view).Version).ConfigureAwait(false);
            _refreshedAt = _time.GetUtcNow();
            if (snapshot is not null)
            {
                Volatile.Write(ref _view, new View(snapshot.Version, snapshot.Principals.ToDictionary(p => p.Name, StringComparer.Ordinal)));
            }
        }
        catch (Exception exception) when (Volatile.Read(ref _view).Version >= 0)
        {
            // The view in hand stays in use; the next request tries again.
            LogRefreshFailed(_logger, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh the principals from the identity store; requests are checked against the view this silo has")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
