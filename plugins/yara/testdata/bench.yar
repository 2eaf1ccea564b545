// Copy of the project's shared/bench/rules/bench.yar, the benchmark rule set, kept
// here so the tests and benchmarks of this module need nothing outside it.
/*
   Benchmark worker rules for stoq benchmarks.
   ~20 rules in the style of public rule sets: plain/nocase/wide strings,
   hex strings with jumps/wildcards, a few regexes, and conditions on the
   MZ header / PE offset. Several line up with marker strings planted by
   make_corpus.py; most never match random data.
*/

rule MZ_Header
{
    meta:
        description = "DOS MZ header at offset 0"
    condition:
        uint16(0) == 0x5A4D
}

rule PE_File
{
    meta:
        description = "MZ header with valid PE signature at e_lfanew"
    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550
}

rule Embedded_PE_DOS_Stub
{
    meta:
        description = "DOS stub text anywhere (embedded executable)"
    strings:
        $s1 = "This program cannot be run in DOS mode"
        $s2 = "This program must be run under Win32"
    condition:
        any of them
}

rule Suspicious_URL
{
    strings:
        $u1 = /https?:\/\/[a-z0-9.\-]{4,64}\.(com|net|org|ru|cn)\/[a-zA-Z0-9_\-\/]{1,64}\.(bin|exe|dll|ps1)/
    condition:
        $u1
}

rule PowerShell_Encoded
{
    strings:
        $p1 = "powershell" nocase
        $p2 = "-enc" nocase
        $p3 = "-nop" nocase
        $p4 = "hidden" nocase
    condition:
        $p1 and 2 of ($p2, $p3, $p4)
}

rule Shadow_Copy_Delete
{
    strings:
        $a = "vssadmin" nocase
        $b = "delete shadows" nocase
        $c = "wmic shadowcopy delete" nocase
    condition:
        ($a and $b) or $c
}

rule Process_Injection_APIs
{
    strings:
        $a1 = "CreateRemoteThread" ascii wide
        $a2 = "VirtualAllocEx" ascii wide
        $a3 = "WriteProcessMemory" ascii wide
        $a4 = "NtUnmapViewOfSection" ascii wide
    condition:
        3 of them
}

rule Persistence_Run_Key
{
    strings:
        $r1 = "Software\\Microsoft\\Windows\\CurrentVersion\\Run" nocase ascii wide
        $r2 = "Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce" nocase ascii wide
    condition:
        any of them
}

rule Private_Key_Material
{
    strings:
        $k1 = "-----BEGIN RSA PRIVATE KEY-----"
        $k2 = "-----BEGIN PRIVATE KEY-----"
        $k3 = "-----BEGIN OPENSSH PRIVATE KEY-----"
    condition:
        any of them
}

rule PHP_Webshell
{
    strings:
        $e1 = "eval(base64_decode(" nocase
        $e2 = "$_POST[" nocase
        $e3 = "assert($_REQUEST" nocase
    condition:
        $e1 or ($e3) or ($e1 and $e2)
}

rule JS_Cookie_Stealer
{
    strings:
        $j1 = "document.cookie" nocase
        $j2 = "document.location" nocase
        $j3 = "<script" nocase
    condition:
        all of them
}

rule Ransom_Note
{
    strings:
        $n1 = "files have been encrypted" nocase
        $n2 = "BTC" fullword
        $n3 = /[13][a-km-zA-HJ-NP-Z1-9]{25,34}/
    condition:
        $n1 and ($n2 or $n3)
}

rule Mimikatz_Strings
{
    strings:
        $m1 = "mimikatz" nocase ascii wide
        $m2 = "sekurlsa::logonpasswords" nocase ascii wide
        $m3 = "gentilkiwi" ascii wide
    condition:
        any of them
}

rule Coin_Miner_Pool
{
    strings:
        $s1 = "stratum+tcp://" ascii
        $s2 = "stratum+ssl://" ascii
        $s3 = "minexmr" nocase
    condition:
        any of ($s1, $s2) or $s3
}

rule Embedded_MZ_Hex
{
    strings:
        $mz = { 4D 5A 90 00 03 00 00 00 04 00 00 00 FF FF 00 00 }
    condition:
        $mz
}

rule Shellcode_GetPC
{
    strings:
        $c1 = { E8 00 00 00 00 58 }          // call $+5 ; pop eax
        $c2 = { D9 EE D9 74 24 F4 5? }       // fldz ; fnstenv [esp-0xc] ; pop reg
        $c3 = { 64 A1 30 00 00 00 }          // mov eax, fs:[0x30] (PEB)
        $c4 = { 64 8B ?? 30 00 00 00 }       // mov reg, fs:[0x30]
    condition:
        2 of them
}

rule UPX_Packed
{
    strings:
        $u1 = "UPX0"
        $u2 = "UPX1"
        $u3 = "UPX!"
    condition:
        uint16(0) == 0x5A4D and 2 of them
}

rule Go_Binary
{
    strings:
        $g1 = "Go build ID:"
        $g2 = "runtime.gopanic"
        $g3 = "go.buildid"
        $g4 = { FF 20 47 6F 20 62 75 69 6C 64 49 44 3A 20 22 }
    condition:
        any of them
}

rule MinGW_Runtime
{
    strings:
        $a = "Mingw-w64 runtime failure" ascii
        $b = "__mingw_" ascii
        $c = "libgcc_s_dw2-1.dll" ascii
    condition:
        any of them
}

rule Base64_PE
{
    strings:
        $b1 = "TVqQAAMAAAAEAAAA"
        $b2 = "TVpQAAIAAAAEAA8A"
        $b3 = "TVoAAAAAAAAAAAAA"
    condition:
        any of them
}

rule Office_Macro_Autoexec
{
    strings:
        $o1 = "AutoOpen" nocase
        $o2 = "Document_Open" nocase
        $o3 = "Workbook_Open" nocase
        $ole = { D0 CF 11 E0 A1 B1 1A E1 }
    condition:
        $ole at 0 and any of ($o*)
}
