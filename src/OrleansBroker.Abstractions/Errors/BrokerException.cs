namespace OrleansBroker.Errors;

/// <summary>
/// The one error type the broker raises for requests it refuses or fails. It crosses the wire intact and every client
/// can read it: it never carries a storage provider's exception inside (the silo logs the cause under
/// <see cref="CorrelationId"/> instead). Catch it on the client and switch on <see cref="Code"/>. A request that fails
/// with it has changed nothing, unless its code says otherwise; what the broker had accepted before stays accepted.
/// </summary>
[GenerateSerializer, Alias("ob.error")]
public sealed class BrokerException : Exception
{
    /// <summary>Creates the error with its code and a message a user can act on.</summary>
    public BrokerException(BrokerErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates the error with its code, a message a user can act on, and the id under which the silo logged its cause.</summary>
    public BrokerException(BrokerErrorCode code, string message, string? correlationId)
        : base(message)
    {
        Code = code;
        CorrelationId = correlationId;
    }

    /// <summary>
    /// Creates the error with its code, a message a user can act on, and its cause. For errors raised where the cause
    /// is readable by every client; the silo drops the cause before the error leaves it.
    /// </summary>
    public BrokerException(BrokerErrorCode code, string message, Exception innerException)
        : base(message, innerException) => Code = code;

    /// <summary>The stable error code.</summary>
    [Id(0)]
    public BrokerErrorCode Code { get; private set; }

    /// <summary>
    /// Where the silo logged the cause of a failure it did not expect or could not show (a storage error, for one):
    /// search the silo's log for it. Null for a refusal whose message says everything (a bad name, a full queue).
    /// </summary>
    [Id(1)]
    public string? CorrelationId { get; private set; }

    /// <summary>The code and the message, on one line.</summary>
    public override string ToString() => $"{Code}: {Message}";
}
