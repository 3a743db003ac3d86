namespace OrleansBroker.Errors;

/// <summary>
/// The one error type the broker raises for requests it refuses. It crosses the wire intact:
/// catch it on the client and switch on <see cref="Code"/>. A request that fails with it has
/// changed nothing; what the broker had accepted before stays accepted.
/// </summary>
[GenerateSerializer, Alias("ob.error")]
public sealed class BrokerException : Exception
{
    /// <summary>Creates the error with its code and a message a user can act on.</summary>
    public BrokerException(BrokerErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates the error with its code, a message a user can act on, and its cause.</summary>
    public BrokerException(BrokerErrorCode code, string message, Exception innerException)
        : base(message, innerException) => Code = code;

    /// <summary>The stable error code.</summary>
    [Id(0)]
    public BrokerErrorCode Code { get; private set; }

    /// <summary>The code and the message, on one line.</summary>
    public override string ToString() => $"{Code}: {Message}";
}
