using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Amqp;
using Amqp.Sasl;
using Amqp.Types;
using OrleansBroker.Identity;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// The SASL layer of a new connection, done before AMQP.Net Lite sees it so that signing in (a call to the identity
/// grains) never blocks a thread: the client's protocol header, the mechanisms offered (PLAIN, and ANONYMOUS when an
/// anonymous principal is configured), its init, the outcome. A client that skips SASL is answered with the SASL header
/// and closed, as the specification asks of a server that requires it.
/// </summary>
internal static class AmqpSasl
{
    /// <summary>Largest SASL frame taken from a client: an init with a user name, a password or an API key.</summary>
    private const int MaxFrameBytes = 16 * 1024;

    private static readonly byte[] SaslHeader = "AMQP\u0003\u0001\u0000\u0000"u8.ToArray();
    private static readonly Symbol Plain = new("PLAIN");
    private static readonly Symbol Anonymous = new("ANONYMOUS");

    /// <summary>The outcome: who signed in, or why not (a refusal has been sent and the connection should close).</summary>
    public readonly record struct Result(PrincipalInfo? Principal, string? Refusal, string? User);

    public static async Task<Result> NegotiateAsync(AmqpEdge edge, IDuplexPipe pipe, CancellationToken cancellationToken)
    {
        var header = await ReadExactlyAsync(pipe.Input, 8, cancellationToken);
        if (header is null)
        {
            return new(null, "closed before its protocol header", null);
        }

        await pipe.Output.WriteAsync(SaslHeader, cancellationToken);
        if (!header.AsSpan().SequenceEqual(SaslHeader))
        {
            return new(null, header.AsSpan(0, 4).SequenceEqual("AMQP"u8)
                ? "it did not start with SASL (the broker asks every client to sign in with SASL PLAIN or ANONYMOUS)"
                : "it is not an AMQP 1.0 client", null);
        }

        var anonymousOffered = edge.Options.AnonymousPrincipal is not null;
        await WriteFrameAsync(pipe.Output, new SaslMechanisms { SaslServerMechanisms = anonymousOffered ? [Plain, Anonymous] : [Plain] }, cancellationToken);
        if (await ReadFrameAsync(pipe.Input, cancellationToken) is not SaslInit init)
        {
            return new(null, "it sent no sasl-init", null);
        }

        PrincipalInfo? principal;
        string? user = null;
        string refusal;
        var code = SaslCode.Auth;
        try
        {
            var mechanism = (string?)init.Mechanism;
            if (mechanism == "PLAIN")
            {
                var credentials = PlainCredentials(init.InitialResponse);
                user = credentials?.User;
                principal = credentials is { } given ? await edge.SignInAsync(given.User, given.Password) : null;
                refusal = "bad user name or password";
            }
            else if (mechanism == "ANONYMOUS" && anonymousOffered)
            {
                principal = await edge.SignInAnonymousAsync();
                refusal = "the anonymous principal does not exist";
            }
            else
            {
                principal = null;
                refusal = $"mechanism '{mechanism}' is not offered";
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The identity grains cannot answer now (a silo just failed): the client may try again.
            principal = null;
            refusal = $"the broker could not check the credentials now: {exception.Message}";
            code = SaslCode.SysTemp;
        }

        if (principal is not null && !principal.Access.Reaches(principal.Access.Tenant))
        {
            refusal = $"principal '{principal.Name}' has no permission in its tenant";
            principal = null;
        }

        await WriteFrameAsync(pipe.Output, new SaslOutcome { Code = principal is null ? code : SaslCode.Ok }, cancellationToken);
        return new(principal, principal is null ? refusal : null, user ?? principal?.Name);
    }

    /// <summary>A SASL PLAIN response, <c>authzid NUL authcid NUL password</c>, as its user name and password; null when malformed.</summary>
    private static (string User, string Password)? PlainCredentials(byte[]? response) =>
        response is null ? null : System.Text.Encoding.UTF8.GetString(response).Split('\0') is [_, var user, var password] ? (user, password) : null;

    private static async Task WriteFrameAsync(PipeWriter output, DescribedList body, CancellationToken cancellationToken)
    {
        var buffer = new ByteBuffer(256, true);
        Encoder.WriteObject(buffer, body);
        var frame = new byte[8 + buffer.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)frame.Length);
        frame[4] = 2; // data offset, in 4-byte words: the 8-byte header
        frame[5] = 1; // SASL frame
        buffer.Buffer.AsSpan(buffer.Offset, buffer.Length).CopyTo(frame.AsSpan(8));
        await output.WriteAsync(frame, cancellationToken);
    }

    private static async Task<object?> ReadFrameAsync(PipeReader input, CancellationToken cancellationToken)
    {
        if (await ReadExactlyAsync(input, 8, cancellationToken) is not { } header)
        {
            return null;
        }

        var size = BinaryPrimitives.ReadUInt32BigEndian(header);
        var offset = header[4] * 4;
        if (header[5] != 1 || size > MaxFrameBytes || offset < 8 || offset > size)
        {
            return null;
        }

        if (await ReadExactlyAsync(input, (int)size - 8, cancellationToken) is not { } rest)
        {
            return null;
        }

        var body = rest.AsSpan(offset - 8).ToArray();
        try
        {
            return Encoder.ReadObject(new ByteBuffer(body, 0, body.Length, body.Length));
        }
        catch (Exception exception) when (exception is AmqpException or InvalidCastException or IndexOutOfRangeException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The next <paramref name="count"/> bytes, or null when the client closed first.</summary>
    private static async Task<byte[]?> ReadExactlyAsync(PipeReader input, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var read = await input.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            if (buffer.Length >= count)
            {
                var bytes = buffer.Slice(0, count).ToArray();
                input.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }

            if (read.IsCompleted || read.IsCanceled)
            {
                input.AdvanceTo(buffer.End);
                return null;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
