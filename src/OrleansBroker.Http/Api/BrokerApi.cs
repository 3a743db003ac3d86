using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OrleansBroker.Errors;
using OrleansBroker.Http.Hosting;
using OrleansBroker.Http.Security;

namespace OrleansBroker.Http.Api;

/// <summary>The API's services and routes: authentication, the policies every route names, errors as problem+json.</summary>
internal static class BrokerApi
{
    private const string RatePolicy = "broker:rate";

    public static void AddServices(IServiceCollection services, BrokerHttpOptions settings)
    {
        // The authentication core only: the broker signs nothing in cookies, so it needs no data protection keys.
        services.AddAuthenticationCore(authentication =>
        {
            authentication.AddScheme<BrokerAuthentication>(BrokerAuthentication.SchemeName, null);
            authentication.DefaultScheme = BrokerAuthentication.SchemeName;
        });
        services.AddWebEncoders();
        services.AddSingleton<QueueRates>();
        if (settings.Jwt.Enabled)
        {
            // Made now, so a bad key stops the silo at start with one line rather than failing the first request.
            services.AddSingleton(new TokenSignIn(settings, TimeProvider.System));
        }

        services.AddTransient<BrokerAuthentication>();
        services.AddAuthorization(Policies.Add);
        services.AddSingleton<IAuthorizationHandler, PermissionHandler>();
        services.AddProblemDetails();
        BrokerHealth.AddServices(services);
        services.ConfigureHttpJsonOptions(json => JsonBodies.Configure(json.SerializerOptions));
        services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "OrleansBroker HTTP API";
            document.Info.Description = "Publish, receive and settle messages; manage queues, topics, users and API keys. Sign in with HTTP Basic or 'Authorization: Bearer <API key>'.";
            return Task.CompletedTask;
        }));
        if (settings.RequestsPerSecond > 0)
        {
            services.AddRateLimiter(limiter =>
            {
                limiter.AddPolicy(RatePolicy, http => RateLimitPartition.GetFixedWindowLimiter(http.User.Identity?.Name ?? "",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = settings.RequestsPerSecond, Window = TimeSpan.FromSeconds(1), QueueLimit = 0 }));
                limiter.OnRejected = (rejected, _) =>
                {
                    rejected.HttpContext.Response.Headers.RetryAfter = "1";
                    return new ValueTask(Problems.WriteAsync(rejected.HttpContext, new BrokerException(BrokerErrorCode.RateLimited,
                        $"More than {settings.RequestsPerSecond} requests in a second (Broker:Http:RequestsPerSecond); retry after a second.")));
                };
            });
        }
    }

    public static void Map(WebApplication app, BrokerHttpOptions settings)
    {
        app.UseMiddleware<ErrorBoundary>();
        if (settings.Console)
        {
            ConsoleSite.Use(app);
        }

        app.UseStatusCodePages(StatusPageAsync);
        app.UseAuthentication();
        app.UseAuthorization();
        if (settings.RequestsPerSecond > 0)
        {
            app.UseRateLimiter();
        }

        BrokerHealth.Map(app);

        var api = app.MapGroup("/api");
        if (settings.RequestsPerSecond > 0)
        {
            api.RequireRateLimiting(RatePolicy);
        }

        var queues = api.MapGroup("/queues").WithTags("queues");
        var queue = queues.MapGroup("/{queue}");
        var topics = api.MapGroup("/topics").WithTags("topics");
        var topic = topics.MapGroup("/{topic}");
        var subscription = topic.MapGroup("/subscriptions/{subscription}");
        QueueEndpoints.Map(queues, queue);
        TopicEndpoints.Map(topics, topic, subscription);
        MessageEndpoints.MapPublish(queue, topic);
        MessageEndpoints.MapReceive(queue);
        MessageEndpoints.MapReceive(subscription);
        PrincipalEndpoints.Map(api);
        OverviewEndpoints.Map(api);
        ClusterEndpoints.Map(api);
        DefinitionsEndpoints.Map(api);
        app.MapOpenApi("/openapi/{documentName}.json");
        if (settings.Metrics && app.Services.GetService<MeterProvider>() is { } meters)
        {
            app.MapPrometheusScrapingEndpoint("/metrics", meters, null, null).RequireAuthorization(Policies.Metrics);
        }
    }

    /// <summary>
    /// Answers the framework gives without a body (an unknown route, a method the route does not take, a JSON route sent
    /// something else) as problem+json too; a JSON route sent another content type carries <c>InvalidMessage</c>.
    /// </summary>
    private static async Task StatusPageAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            await Problems.WriteAsync(http, new BrokerException(BrokerErrorCode.InvalidMessage, "This route takes JSON: send Content-Type: application/json."),
                StatusCodes.Status415UnsupportedMediaType);
            return;
        }

        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext { HttpContext = http });
    }
}
