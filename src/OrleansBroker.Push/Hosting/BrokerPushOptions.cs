using OrleansBroker.Errors;

namespace OrleansBroker.Push.Hosting;

/// <summary>
/// Push delivery on a silo (section <c>Broker:Push</c>): where queues with a push endpoint may push, and how an endpoint that
/// keeps failing is paused.
/// </summary>
public sealed class BrokerPushOptions
{
    /// <summary>Configuration section: <c>Broker:Push</c>.</summary>
    public const string SectionName = "Broker:Push";

    /// <summary>Whether this silo pushes. Default true. Off, a queue with a push endpoint cannot be created here.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Hosts push endpoints may have: host names (<c>hooks.example.com</c>), <c>*.example.com</c> patterns (any name below it)
    /// or IP addresses (<c>127.0.0.1</c>, <c>::1</c>). Empty (the default): any host whose addresses are all public; loopback,
    /// private, link-local and other internal addresses are refused, so the broker cannot be turned against the network it
    /// runs in. Not empty: only the hosts listed, each with whatever addresses it has. Checked when a queue is created and
    /// again on every connection (a public name that resolves to an internal address is refused).
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>
    /// Consecutive failed requests after which an endpoint's circuit opens: pushing pauses, then one request probes it. Default 5.
    /// </summary>
    public int FailuresToOpen { get; set; } = 5;

    /// <summary>
    /// Longest pause of an open circuit: the first is 100 ms, each failed probe doubles it, up to this. Default 60 seconds.
    /// </summary>
    public TimeSpan MaxPause { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (FailuresToOpen is < 1 or > 1000)
        {
            throw Invalid($"Broker:Push:FailuresToOpen must be 1 to 1000 (it is {FailuresToOpen}).");
        }

        if (MaxPause < TimeSpan.FromMilliseconds(100) || MaxPause > TimeSpan.FromHours(1))
        {
            throw Invalid($"Broker:Push:MaxPause must be 100 ms to 1 hour (it is {MaxPause}).");
        }

        foreach (var host in AllowedHosts)
        {
            if (string.IsNullOrWhiteSpace(host) || host.Contains('/', StringComparison.Ordinal) || host.Contains(':', StringComparison.Ordinal) && !System.Net.IPAddress.TryParse(host, out _)
                || host.IndexOf('*', StringComparison.Ordinal) is > 0 || (host.StartsWith('*') && !host.StartsWith("*.", StringComparison.Ordinal)))
            {
                throw Invalid($"Broker:Push:AllowedHosts has '{host}': give a host name, a *.example.com pattern or an IP address, without scheme or port.");
            }
        }
    }

    private static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidOptions, message);
}
