namespace OrleansBroker.Server.Log;

/// <summary>
/// Writes what a log's metadata still carries (settle records left to the next commit, segments it cleared) once the
/// log has had no commit for <see cref="Delay"/>: a busy log writes them with its next commit anyway.
/// Runs on the log's grain scheduler like the log itself.
/// </summary>
internal sealed class QuietFlush(Func<bool> committing, Action flush)
{
    /// <summary>How long a log that went quiet waits before it writes what its metadata carries.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <summary>Commits that landed, to see whether the log stayed quiet.</summary>
    private long _landedCommits;
    private bool _waiting;
    private bool _stopped;

    public void CommitLanded() => _landedCommits++;

    /// <summary>Starts waiting for the log to go quiet, unless a wait is under way already.</summary>
    public void Start()
    {
        if (!_waiting)
        {
            _ = WaitAsync();
        }
    }

    /// <summary>Nothing is flushed after this (the grain is deactivating).</summary>
    public void Stop() => _stopped = true;

    private async Task WaitAsync()
    {
        _waiting = true;
        try
        {
            long seen;
            do
            {
                seen = _landedCommits;
                await Task.Delay(Delay);
            }
            while (!_stopped && (_landedCommits != seen || committing()));
        }
        finally
        {
            _waiting = false;
        }

        if (!_stopped)
        {
            flush();
        }
    }
}
