using OrleansBroker.Errors;

namespace OrleansBroker.Queues;

/// <summary>
/// An HTTP endpoint a queue (or a topic subscription's queue) delivers to by itself, as Amazon SNS and Google Pub/Sub push:
/// the broker consumes the queue and POSTs each message. A 2xx answer acks it; any other answer, a timeout or a refused
/// connection is a failed delivery that the queue's retry policy brings back, dead-lettered with the status or error as its
/// reason after the queue's max attempts. Before the first message the endpoint must confirm it wants them (it answers the
/// validation request with its token); every request is signed with <see cref="Secrets"/>. The host must be allowed by the
/// silo's <c>Broker:Push:AllowedHosts</c> when it is a loopback or private address.
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.push-endpoint")]
public sealed record PushEndpoint
{
    /// <summary>Default <see cref="Timeout"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Shortest <see cref="Timeout"/>: 1 second.</summary>
    public static readonly TimeSpan MinTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Default <see cref="MaxConcurrency"/>: 64.</summary>
    public const int DefaultMaxConcurrency = 64;

    /// <summary>Largest <see cref="MaxConcurrency"/>: 1000.</summary>
    public const int MaxMaxConcurrency = 1000;

    /// <summary>Most <see cref="Secrets"/> at once: 2 (the current one and the next, while the receiver changes over).</summary>
    public const int MaxSecrets = 2;

    /// <summary>Shortest secret: 16 characters.</summary>
    public const int MinSecretLength = 16;

    /// <summary>Most <see cref="Headers"/>: 20.</summary>
    public const int MaxHeaders = 20;

    /// <summary>The absolute <c>http</c> or <c>https</c> URL each message is POSTed to.</summary>
    [Id(0)]
    public string Url { get; init; } = "";

    /// <summary>How long a request may take before it counts as failed. Default 10 s; from 1 s to less than the queue's lease.</summary>
    [Id(1)]
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>
    /// Most requests in flight at once. Default 64; 1 to 1000. The broker starts lower and raises its concurrency while the
    /// endpoint succeeds, and halves it on each failure.
    /// </summary>
    [Id(2)]
    public int MaxConcurrency { get; init; } = DefaultMaxConcurrency;

    /// <summary>
    /// Secrets that sign each request (header <c>Broker-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of
    /// "&lt;t&gt;.&lt;body&gt;"&gt;</c>, one <c>v1</c> per secret): one or two (two while rotating), each at least 16
    /// characters. Stored with the queue; never shown by queue info.
    /// </summary>
    [Id(3)]
    public IReadOnlyList<string> Secrets { get; init; } = [];

    /// <summary>Extra request headers (for example an authorization header the receiver expects); at most 20.</summary>
    [Id(4)]
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>How a message is laid out in the request. Default <see cref="PushPayload.Raw"/>.</summary>
    [Id(5)]
    public PushPayload Payload { get; init; } = PushPayload.Raw;

    /// <summary>What queue info shows: the secrets replaced by how many there are.</summary>
    public PushEndpoint Redacted() => this with { Secrets = [.. Secrets.Select(_ => "(hidden)")] };

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) if out of range for a queue with <paramref name="leaseDuration"/>.</summary>
    public void Validate(TimeSpan leaseDuration)
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw Invalid($"Push URL '{Url}' is not an absolute http or https URL.");
        }

        if (url.UserInfo.Length > 0 || url.Fragment.Length > 0)
        {
            throw Invalid("Push URL must not carry a user name, a password or a fragment; send credentials in a push header.");
        }

        if (Timeout < MinTimeout || Timeout >= leaseDuration)
        {
            throw Invalid($"Push timeout {Timeout} is out of range; allowed is {MinTimeout} to less than the queue's lease ({leaseDuration}).");
        }

        if (MaxConcurrency < 1 || MaxConcurrency > MaxMaxConcurrency)
        {
            throw Invalid($"Push MaxConcurrency {MaxConcurrency} is out of range 1 to {MaxMaxConcurrency}.");
        }

        if (Secrets is null || Secrets.Count is 0 or > MaxSecrets || Secrets.Any(s => s is null || s.Length < MinSecretLength))
        {
            throw Invalid($"A push endpoint needs one or two secrets (two while rotating), each at least {MinSecretLength} characters: the receiver checks the Broker-Signature header with it.");
        }

        if (Headers is { } headers)
        {
            if (headers.Count > MaxHeaders)
            {
                throw Invalid($"At most {MaxHeaders} push headers are allowed; {headers.Count} were given.");
            }

            foreach (var (name, value) in headers)
            {
                if (!IsToken(name) || name.StartsWith("Broker-", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ce-", StringComparison.OrdinalIgnoreCase)
                    || ReservedHeaders.Contains(name))
                {
                    throw Invalid($"Push header '{name}' is not allowed: it must be an HTTP token and not one the broker sets (Broker-*, ce-*, Host, Content-*, ...).");
                }

                if (value is null || value.Any(c => c is '\r' or '\n' or '\0'))
                {
                    throw Invalid($"Push header '{name}' has a value with a line break; not allowed.");
                }
            }
        }

        if (!Enum.IsDefined(Payload))
        {
            throw Invalid($"Unknown push payload {Payload}.");
        }
    }

    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Expect",
    };

    private static bool IsToken(string name) =>
        name is { Length: > 0 and <= 100 } && name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)));

    private static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidOptions, message);

    /// <inheritdoc/>
    public bool Equals(PushEndpoint? other) =>
        other is not null && Url == other.Url && Timeout == other.Timeout && MaxConcurrency == other.MaxConcurrency && Payload == other.Payload
        && (Secrets ?? []).SequenceEqual(other.Secrets ?? [])
        && (Headers ?? EmptyHeaders).Count == (other.Headers ?? EmptyHeaders).Count
        && (Headers ?? EmptyHeaders).All(h => other.Headers is not null && other.Headers.TryGetValue(h.Key, out var v) && v == h.Value);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Url, Timeout, MaxConcurrency, Payload);

    private static readonly Dictionary<string, string> EmptyHeaders = [];
}

/// <summary>How a pushed message is laid out in its HTTP request. Values are persisted and never change.</summary>
public enum PushPayload
{
    /// <summary>
    /// The body as it is, <c>Content-Type</c> the message's; the message's fields in the headers the HTTP API publishes with
    /// (<c>Broker-Message-Id</c>, <c>Broker-Routing-Key</c>, <c>Broker-Header-&lt;name&gt;</c>, ...). The default.
    /// </summary>
    Raw = 0,

    /// <summary>A CloudEvents 1.0 HTTP binary-mode request: the body as it is, the event's attributes in <c>ce-*</c> headers.</summary>
    CloudEventsBinary = 1,

    /// <summary>A CloudEvents 1.0 HTTP structured-mode request: one <c>application/cloudevents+json</c> document.</summary>
    CloudEventsStructured = 2,
}

/// <summary>What a queue's push delivery is doing, as queue info shows it.</summary>
/// <param name="State"><c>validating</c> (waiting for the endpoint to confirm), <c>active</c>, <c>circuit open</c> (pushing paused after repeated failures), or <c>stopped</c>.</param>
/// <param name="Concurrency">Requests the broker allows in flight now.</param>
/// <param name="Pushed">Messages the endpoint acked since the queue was last activated.</param>
/// <param name="Failed">Requests that failed since the queue was last activated.</param>
/// <param name="LastError">The last failure (<c>HTTP 503</c>, a timeout, a refused connection), or null.</param>
/// <param name="LastErrorAt">When it happened.</param>
/// <param name="Silo">The silo pushing.</param>
[GenerateSerializer, Immutable, Alias("ob.push-status")]
public sealed record PushStatus(
    [property: Id(0)] string State,
    [property: Id(1)] int Concurrency,
    [property: Id(2)] long Pushed,
    [property: Id(3)] long Failed,
    [property: Id(4)] string? LastError,
    [property: Id(5)] DateTimeOffset? LastErrorAt,
    [property: Id(6)] string? Silo = null);
