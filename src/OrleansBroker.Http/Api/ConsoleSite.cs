using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace OrleansBroker.Http.Api;

/// <summary>
/// The management console: static files embedded in this assembly, served at <c>/</c> without signing in (they hold no
/// data); the page signs in and reads everything through the API. Its pages run only the console's own scripts (a content
/// security policy of <c>'self'</c>), may not be framed, and are revalidated on every load so an upgraded silo serves its own.
/// </summary>
internal static class ConsoleSite
{
    private const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    public static void Use(WebApplication app)
    {
        var files = new ManifestEmbeddedFileProvider(typeof(ConsoleSite).Assembly, "Console");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = new FileExtensionContentTypeProvider(),
            OnPrepareResponse = served =>
            {
                var headers = served.Context.Response.Headers;
                headers.CacheControl = "no-cache";
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers["Referrer-Policy"] = "no-referrer";
            },
        });
    }
}
