namespace OrleansBroker.Http.Api;

/// <summary>Fixed limits of the HTTP API; the message limits themselves are the broker's (<see cref="BrokerLimits"/>, <c>Broker:MaxMessageBytes</c>).</summary>
internal static class HttpLimits
{
    /// <summary>Largest request body: 64 MiB (a batch of messages in JSON); a single message is held to the silo's message size.</summary>
    public const long MaxRequestBodyBytes = 64L * 1024 * 1024;
}
