# BitNetNative build script for Windows: a thin mirror of build.sh (see it for what each mode does).
#   .\build.ps1 [build|run|test|bindings|publish]
# Needs: the .NET SDK, CMake, Ninja and a C compiler (Visual Studio Build Tools or clang) on PATH.
param([string]$Mode = "build")
$ErrorActionPreference = "Stop"
$Root = $PSScriptRoot
$Build = Join-Path $Root "build"
$Artifacts = Join-Path $Root "artifacts"
$Rid = if ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq "Arm64") { "win-arm64" } else { "win-x64" }
$NativeDir = Join-Path $Build "native-release/native"
$Props = @("-p:BitNetSkipNativeBuild=true", "-p:BitNetNativeDir=$NativeDir")

function Invoke-Checked([string]$exe, [string[]]$argv) {
    & $exe @argv
    if ($LASTEXITCODE -ne 0) { throw "error: $exe $($argv -join ' ') failed with exit code $LASTEXITCODE" }
}

function Build-Native {
    Invoke-Checked cmake @("-S", $Root, "-B", (Join-Path $Build "native-release"), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release")
    Invoke-Checked cmake @("--build", (Join-Path $Build "native-release"))
}

function Publish-Cli {
    $out = Join-Path $Artifacts "publish/bitnet-$Rid"
    Invoke-Checked dotnet (@("publish", (Join-Path $Root "managed/BitNet.Cli/BitNet.Cli.csproj"), "-c", "Release", "-r", $Rid,
        "-p:PublishAot=true", "-o", $out) + $Props)
    New-Item -ItemType Directory -Force (Join-Path $Artifacts "bin") | Out-Null
    Copy-Item (Join-Path $out "bitnet.exe") (Join-Path $Artifacts "bin/bitnet.exe") -Force
    # SkiaSharp / HarfBuzzSharp (loss.png of `bitnet train`) load their native libraries from beside the executable
    foreach ($lib in @("libSkiaSharp.dll", "libHarfBuzzSharp.dll")) {
        $p = Join-Path $out $lib
        if (Test-Path $p) { Copy-Item $p (Join-Path $Artifacts "bin/") -Force }
    }
    Copy-Item (Join-Path $NativeDir "bitnet.dll") (Join-Path $Artifacts "bin/") -Force
}

function Build-All {
    Build-Native
    Invoke-Checked dotnet (@("build", (Join-Path $Root "BitNetNative.sln"), "-c", "Release") + $Props)
    Publish-Cli
}

switch ($Mode) {
    "build" { Build-All }
    "run" { Build-All; Invoke-Checked (Join-Path $Artifacts "bin/bitnet.exe") @("info") }
    "test" {
        Build-All
        Invoke-Checked ctest @("--test-dir", (Join-Path $Build "native-release"), "--output-on-failure")
        Invoke-Checked dotnet (@("test", (Join-Path $Root "tests/BitNet.Tests/BitNet.Tests.csproj"), "-c", "Release", "--no-build") + $Props)
    }
    "bindings" {
        Invoke-Checked dotnet @("run", "--project", (Join-Path $Root "bindings/BitNet.Bindings.Tool"), "-c", "Release", "--",
            (Join-Path $Root "native/include/bitnet.h"), (Join-Path $Root "managed/BitNet/Interop/NativeMethods.g.cs"))
    }
    "publish" { Build-Native; Publish-Cli }
    default { throw "error: unknown mode '$Mode' (use: build, run, test, bindings, publish)" }
}
