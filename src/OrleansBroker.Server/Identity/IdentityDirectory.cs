using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using OrleansBroker.Identity;

namespace OrleansBroker.Server.Identity;

/// <summary>
/// A silo's view of the principals, for its edges to check credentials against without a grain call per request. A
/// request finding the view older than <see cref="RefreshInterval"/> asks the identity grain for changes first (one call
/// for all requests then), a failed sign-in looks once more at a view a tenth of a second old, and a change made on this
/// silo is seen at once. A password is verified with PBKDF2 once; afterwards a
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

    /// <summary>How old the view may grow before a request refreshes it first: 1 second, so a revoked key stops working within a second everywhere.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    /// <summary>A sign-in that fails looks once more at a view no older than this (a principal made a moment ago elsewhere): 100 ms.</summary>
    private static readonly TimeSpan MissRefreshInterval = TimeSpan.FromMilliseconds(100);

    private const int MaxRemembered = 10_000;

    private readonly ConcurrentDictionary<string, long> _verified = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<bool>>> _deriving = new(StringComparer.Ordinal);
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
        var view = await CurrentAsync(RefreshInterval).ConfigureAwait(false);
        var user = User(view, name);
        if (user is not null && await VerifyAsync(user, password).ConfigureAwait(false))
        {
            return user.ToInfo();
        }

        // Made or changed elsewhere a moment ago (the CLI, another silo)? One more look, at a view no older than a tenth of a second.
        var fresh = await CurrentAsync(MissRefreshInterval).ConfigureAwait(false);
        var again = ReferenceEquals(fresh, view) ? null : User(fresh, name);
        return again is not null && again.Stamp != user?.Stamp && await VerifyAsync(again, password).ConfigureAwait(false) ? again.ToInfo() : null;
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

        var name = key[IdentityGrain.KeyPrefix.Length..dot];
        var view = await CurrentAsync(RefreshInterval).ConfigureAwait(false);
        if (Key(view, name, key) is { } principal)
        {
            return principal.ToInfo();
        }

        var fresh = await CurrentAsync(MissRefreshInterval).ConfigureAwait(false);
        return ReferenceEquals(fresh, view) ? null : Key(fresh, name, key)?.ToInfo();
    }

    /// <summary>
    /// For protocols with one user name and password field (MQTT CONNECT, AMQP SASL PLAIN): an API key given as the
    /// password (<c>obk.</c>...) signs in as its key, whatever the user name; anything else as the user and its password.
    /// </summary>
    public ValueTask<PrincipalInfo?> SignInWithUserOrKeyAsync(string user, string password) =>
        password.StartsWith(IdentityGrain.KeyPrefix, StringComparison.Ordinal) ? SignInWithKeyAsync(password) : SignInAsync(user, password);

    /// <summary>The principal named <paramref name="name"/>, without a credential (for settings that name one, as MQTT's anonymous principal), or null.</summary>
    public async ValueTask<PrincipalInfo?> FindAsync(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var view = await CurrentAsync(RefreshInterval).ConfigureAwait(false);
        return view.ByName.TryGetValue(name, out var principal) ? principal.ToInfo() : null;
    }

    private static PrincipalRecord? User(View view, string name) =>
        view.ByName.TryGetValue(name, out var principal) && principal.Kind == PrincipalKind.User ? principal : null;

    private static PrincipalRecord? Key(View view, string name, string key) =>
        view.ByName.TryGetValue(name, out var principal) && principal.Kind == PrincipalKind.ApiKey && SecretHasher.Verify(key, principal.SecretHash) ? principal : null;

    /// <summary>Whether <paramref name="password"/> is the user's: remembered, or derived once (at most half the cores at a time).</summary>
    private async ValueTask<bool> VerifyAsync(PrincipalRecord user, string password)
    {
        var remembered = string.Concat(user.Name, "\n", Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(password))));
        if (_verified.TryGetValue(remembered, out var stamp) && stamp == user.Stamp)
        {
            return true;
        }

        // Requests that arrive together with the same credentials share one derivation.
        var deriving = string.Concat(remembered, "\n", user.Stamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var derivation = _deriving.GetOrAdd(deriving, _ => new Lazy<Task<bool>>(() => DeriveAsync(user, password)));
        bool valid;
        try
        {
            valid = await derivation.Value.ConfigureAwait(false);
        }
        finally
        {
            _deriving.TryRemove(new KeyValuePair<string, Lazy<Task<bool>>>(deriving, derivation));
        }

        if (valid)
        {
            if (_verified.Count >= MaxRemembered)
            {
                _verified.Clear();
            }

            _verified[remembered] = user.Stamp;
        }

        return valid;
    }

    /// <summary>Key derivation is deliberately slow: at most half the cores derive at once, so failed sign-ins cannot starve the broker.</summary>
    private async Task<bool> DeriveAsync(PrincipalRecord user, string password)
    {
        await _derivations.WaitAsync().ConfigureAwait(false);
        try
        {
            return await Task.Run(() => SecretHasher.Verify(password, user.SecretHash)).ConfigureAwait(false);
        }
        finally
        {
            _derivations.Release();
        }
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

    /// <summary>Every principal with its stored hash, for a broker's definitions (administrators only).</summary>
    public async Task<IReadOnlyList<PrincipalDefinition>> ExportAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = await _grains.GetGrain<IIdentityStoreGrain>(0).GetSnapshot(-1).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. (snapshot?.Principals ?? []).OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new PrincipalDefinition(p.Name, p.Kind, p.Access, p.SecretHash))];
    }

    /// <summary>Adds a principal from a broker's definitions; false when one of its name exists (it is kept as it is).</summary>
    public async Task<bool> ImportAsync(PrincipalDefinition principal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var added = await _grains.GetGrain<IIdentityStoreGrain>(0).Import(principal.Name, principal.Kind, principal.Access, principal.SecretHash)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        await RefreshAsync().ConfigureAwait(false);
        return added;
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

    /// <summary>The view, refreshed first when it is older than <paramref name="maxAge"/>; requests meanwhile share that one refresh.</summary>
    private async ValueTask<View> CurrentAsync(TimeSpan maxAge)
    {
        var view = Volatile.Read(ref _view);
        if (view.Version >= 0 && _time.GetUtcNow() - _refreshedAt <= maxAge)
        {
            return view;
        }

        Task refresh;
        lock (_lock)
        {
            if (_refresh is null || _refresh.IsCompleted)
            {
                _refresh = LoadAsync(null);
            }

            refresh = _refresh;
        }

        await refresh.ConfigureAwait(false);
        return Volatile.Read(ref _view);
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
            // The view in hand stays in use for another interval; then requests try again.
            _refreshedAt = _time.GetUtcNow();
            LogRefreshFailed(_logger, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh the principals from the identity store; requests are checked against the view this silo has")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
