using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Push.Pushing;

/// <summary>
/// Pushes one queue to its endpoint from the silo the queue is active on. First the endpoint confirms it wants the messages
/// (a validation request it answers 200 with the token as its body; retried with backoff until it does). Then the worker
/// consumes the queue as any consumer does (its prefetch the endpoint's most concurrent requests) and POSTs each delivery:
/// a 2xx answer completes it; anything else gives it back to the queue, after <c>Retry-After</c> when the answer has one and
/// otherwise after the queue's retry backoff, and on the queue's last attempt dead-letters it with the status or error as its
/// reason. Concurrency follows <see cref="PushWindow"/>.
/// </summary>
internal sealed class PushWorker
{
    private static readonly TimeSpan MaxValidationBackoff = TimeSpan.FromSeconds(30);
    private readonly PushEdge _edge;
    private readonly string _queue;
    private readonly QueueOptions _options;
    private readonly PushEndpoint _endpoint;
    private readonly Uri _url;
    private readonly PushWindow _window;
    private readonly CancellationTokenSource _stop = new();
    private Task _run = Task.CompletedTask;
    private volatile string _state = "validating";
    private long _pushed;
    private long _failed;
    private volatile string? _lastError;
    private DateTimeOffset? _lastErrorAt;

    public PushWorker(PushEdge edge, string queue, QueueOptions options)
    {
        _edge = edge;
        _queue = queue;
        _options = options;
        _endpoint = options.Push!;
        _url = new Uri(_endpoint.Url);
        _window = new PushWindow(_endpoint.MaxConcurrency, edge.Options.FailuresToOpen, edge.Options.MaxPause, edge.Time);
    }

    /// <summary>The options it pushes with: a queue whose options changed gets a new worker.</summary>
    public QueueOptions Options => _options;

    public PushStatus Status => new(
        _state == "active" && _window.Open ? "circuit open" : _state, _window.Limit, Interlocked.Read(ref _pushed), Interlocked.Read(ref _failed),
        _lastError, _lastErrorAt, _edge.SiloName);

    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Stops taking deliveries; the consumer gives back what it holds. Requests in flight finish on their own.</summary>
    public async Task StopAsync()
    {
        _state = "stopped";
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ValidateAsync(cancellationToken);
            _state = "active";
            PushLog.Started(_edge.Logger, _queue, _endpoint.Url);
            var consumer = new ConsumerOptions { Prefetch = _endpoint.MaxConcurrency, ConsumerId = $"push@{_edge.SiloName}" };
            await foreach (var delivery in _edge.Client.ReadAllAsync(_queue, consumer, cancellationToken))
            {
                await _window.EnterAsync(cancellationToken);
                _ = PushAsync(delivery);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // The queue was deleted, or the cluster could not serve it: the queue starts a new worker when it activates again.
            _state = "stopped";
            Failed($"consuming the queue failed: {exception.Message}");
            PushLog.ConsumeFailed(_edge.Logger, exception, _queue);
        }
    }

    private async Task ValidateAsync(CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            string? problem;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_endpoint.Timeout);
                using var request = PushRequests.Validate(_endpoint, _url, _queue, token, _edge.Time.GetUtcNow());
                using var response = await _edge.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var answer = await ReadAnswerAsync(response, timeout.Token);
                problem = response.StatusCode != HttpStatusCode.OK ? $"validation: HTTP {(int)response.StatusCode}"
                    : answer != token ? "validation: the endpoint answered 200 without the token from the Broker-Push-Validation header as its body"
                    : null;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested && exception is HttpRequestException or OperationCanceledException or IOException)
            {
                problem = $"validation: {Describe(exception)}";
            }

            if (problem is null)
            {
                return;
            }

            Failed(problem);
            PushLog.ValidationFailed(_edge.Logger, _queue, _endpoint.Url, problem);
            await Task.Delay(backoff, _edge.Time, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(MaxValidationBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    private async Task PushAsync(Delivery delivery)
    {
        var success = false;
        try
        {
            string reason;
            TimeSpan? retryAfter = null;
            try
            {
                using var timeout = new CancellationTokenSource(_endpoint.Timeout);
                using var request = PushRequests.Message(_endpoint, _url, _queue, delivery, _edge.Time.GetUtcNow());
                // The answer's body is not read (an endpoint cannot make the broker hold a large one); the handler drains
                // what is small enough to keep the connection.
                using var response = await _edge.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    success = true;
                    await _edge.Client.CompleteAsync(delivery);
                    Interlocked.Increment(ref _pushed);
                    _edge.Metrics.Pushed(true);
                    return;
                }

                reason = $"HTTP {(int)response.StatusCode}";
                retryAfter = RetryAfter(response);
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
            {
                reason = Describe(exception);
            }

            Failed(reason);
            _edge.Metrics.Pushed(false);
            if (_options.MaxDeliveryAttempts > 0 && delivery.Attempt >= _options.MaxDeliveryAttempts)
            {
                await _edge.Client.DeadLetterAsync(delivery, reason);
            }
            else
            {
                await _edge.Client.AbandonAsync(delivery, retryAfter);
            }
        }
        catch (Exception exception)
        {
            // Settling failed (its lease ended first, or the queue is gone): the queue delivers it again.
            PushLog.SettleFailed(_edge.Logger, exception, _queue, delivery.MessageId);
        }
        finally
        {
            _window.Exit(success);
        }
    }

    /// <summary>The start of a validation answer's body (the token is 32 characters; at most 1 KiB is read), trimmed.</summary>
    private static async Task<string> ReadAnswerAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[1024];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
        {
            length += read;
        }

        return System.Text.Encoding.UTF8.GetString(buffer, 0, length).Trim();
    }

    private void Failed(string reason)
    {
        Interlocked.Increment(ref _failed);
        _lastError = reason;
        _lastErrorAt = _edge.Time.GetUtcNow();
    }

    /// <summary>A <c>Retry-After</c> of the answer (seconds or a date), at most a day; null without one.</summary>
    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - _edge.Time.GetUtcNow() : null);
        return delay is { } d ? TimeSpan.FromTicks(Math.Clamp(d.Ticks, 0, TimeSpan.TicksPerDay)) : null;
    }

    private string Describe(Exception exception) => exception switch
    {
        OperationCanceledException => $"timeout after {_endpoint.Timeout.TotalSeconds:0.###} s",
        HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } } => "connection refused",
        HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => $"host {_url.Host} not found",
        _ => exception.InnerException is { } inner && exception.Message.Length < 40 ? $"{exception.Message} ({inner.Message})" : exception.Message,
    };
}
