using NoEtl.ApiGateway.Auth;

namespace NoEtl.Gateway.Tests;

/// <summary>The user NoETL's GUI gets from <c>POST /api/auth/validate</c>: its roles decide which pages it shows.</summary>
public sealed class GuiLoginTests
{
    [Fact]
    public void Operators_are_admins_of_the_gui_and_a_pool_is_never_a_role()
    {
        var operatorUser = AuthEndpoints.User(new ApiPrincipal("operator", "operator", null, new byte[32]));
        Assert.Equal(["admin", "operator"], operatorUser.Roles);
        var worker = AuthEndpoints.User(new ApiPrincipal("admin-pool", "worker", "admin", new byte[32]));
        Assert.Equal(["worker"], worker.Roles);
        Assert.Equal("admin", worker.Pool);
    }
}
