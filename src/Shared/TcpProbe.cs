using System.Net.Sockets;

namespace OrleansBroker;

/// <summary>What a TCP connect to a service found: something listening, nothing answering in time, or a refusal.</summary>
internal enum TcpProbeResult
{
    Accepted,
    NoAnswer,
    Refused,
}

/// <summary>
/// One TCP connect to a service before a client that retries for a long time is started on it: a port nothing listens on,
/// or a host name that does not resolve, is said at once instead of after the client's retries.
/// </summary>
internal static class TcpProbe
{
    public static async Task<(TcpProbeResult Result, string? Reason)> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            return (TcpProbeResult.Accepted, null);
        }
        catch (SocketException refused) when (refused.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostNotFound
            or SocketError.HostUnreachable or SocketError.NetworkUnreachable)
        {
            return (TcpProbeResult.Refused, refused.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (TcpProbeResult.NoAnswer, null);
        }
    }
}
