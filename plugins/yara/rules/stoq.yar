/*
   Default worker rules of stoq's yara plugin (option worker_rules).

   File type rules (tag filetype) name what a payload is; the others flag
   content an analyst usually wants to see. Every rule carries a description;
   score (an integer, 0-100) says how interesting a match is on its own.
   Replace or extend this file with your own rule sets: point worker_rules
   at them.
*/

// ---- file types --------------------------------------------------------

rule PE_File : filetype executable
{
    meta:
        description = "Windows PE executable (MZ header with a PE signature at e_lfanew)"
        filetype = "PE"
        score = 0
    condition:
        uint16(0) == 0x5A4D and
        uint32(0x3C) < filesize and
        uint32(uint32(0x3C)) == 0x00004550
}

rule ELF_File : filetype executable
{
    meta:
        description = "ELF executable, shared object or core file"
        filetype = "ELF"
        score = 0
    condition:
        uint32(0) == 0x464C457F
}

rule MachO_File : filetype executable
{
    meta:
        description = "Mach-O executable (32/64-bit, either byte order, or a universal binary)"
        filetype = "Mach-O"
        score = 0
    condition:
        uint32(0) == 0xFEEDFACE or uint32(0) == 0xFEEDFACF or
        uint32(0) == 0xCEFAEDFE or uint32(0) == 0xCFFAEDFE or
        // universal (fat) binary: few architectures, unlike a Java class
        // file whose next word holds its version (45 and up)
        (uint32be(0) == 0xCAFEBABE and uint32be(4) > 0 and uint32be(4) < 20)
}

rule Java_Class : filetype
{
    meta:
        description = "Compiled Java class file"
        filetype = "Java class"
        score = 0
    condition:
        uint32be(0) == 0xCAFEBABE and uint16be(6) >= 45
}

rule OLE_Compound_File : filetype document
{
    meta:
        description = "OLE2 compound file (legacy Office document, MSI, MSG)"
        filetype = "OLE"
        score = 0
    condition:
        uint32(0) == 0xE011CFD0 and uint32(4) == 0xE11AB1A1
}

rule PDF_Document : filetype document
{
    meta:
        description = "PDF document (header in the first KiB, as readers accept)"
        filetype = "PDF"
        score = 0
    strings:
        $header = "%PDF-"
    condition:
        $header in (0..1024)
}

rule RTF_Document : filetype document
{
    meta:
        description = "Rich Text Format document"
        filetype = "RTF"
        score = 0
    strings:
        $header = "{\\rt"
    condition:
        $header at 0
}

rule ZIP_Archive : filetype archive
{
    meta:
        description = "ZIP archive (also JAR, APK and Office Open XML)"
        filetype = "ZIP"
        score = 0
    condition:
        uint32(0) == 0x04034B50
}

rule Office_Open_XML : filetype document
{
    meta:
        description = "Office Open XML document (docx, xlsx, pptx)"
        filetype = "OOXML"
        score = 0
    strings:
        $content_types = "[Content_Types].xml"
        $word = "word/"
        $excel = "xl/"
        $powerpoint = "ppt/"
    condition:
        uint32(0) == 0x04034B50 and $content_types and any of ($word, $excel, $powerpoint)
}

rule Compressed_Archive : filetype archive
{
    meta:
        description = "gzip, bzip2, xz, RAR or 7-Zip compressed data"
        score = 0
    strings:
        $rar = { 52 61 72 21 1A 07 }
        $sevenzip = { 37 7A BC AF 27 1C }
        $xz = { FD 37 7A 58 5A 00 }
    condition:
        uint16(0) == 0x8B1F or
        (uint16(0) == 0x5A42 and uint8(2) == 0x68) or
        $rar at 0 or $sevenzip at 0 or $xz at 0
}

rule Image_File : filetype image
{
    meta:
        description = "PNG, JPEG, GIF, BMP or TIFF image"
        score = 0
    strings:
        $png = { 89 50 4E 47 0D 0A 1A 0A }
        $gif87 = "GIF87a"
        $gif89 = "GIF89a"
    condition:
        $png at 0 or $gif87 at 0 or $gif89 at 0 or
        (uint16be(0) == 0xFFD8 and uint8(2) == 0xFF) or
        (uint16(0) == 0x4D42 and uint32(2) == filesize) or
        uint32(0) == 0x002A4949 or uint32(0) == 0x2A004D4D
}

// ---- content of interest -----------------------------------------------

// A PE header (the "PE\0\0" signature, a file header, the PE32 or PE32+
// optional header magic) other than the one the file's own MZ header points
// at. An embedded PE whose MZ was wiped, as some loaders do, counts too.
// Linear in the payload: no "MZ" string, so no loop over its matches
// (following each MZ to its e_lfanew is quadratic in their number, see
// dispatcher.yar's exe_file) and no list of every MZ in the results.
rule Embedded_PE : executable
{
    meta:
        description = "A PE header after the file's own (an embedded executable)"
        score = 60
    strings:
        $pe_header = { 50 45 00 00 [20] 0B ( 01 | 02 ) }
    condition:
        #pe_header > 1 or
        (#pe_header == 1 and not (uint16(0) == 0x5A4D and @pe_header[1] == uint32(0x3C)))
}

rule URL
{
    meta:
        description = "http, https or ftp URL"
        score = 10
    strings:
        $url = /(https?|ftp):\/\/[a-zA-Z0-9][a-zA-Z0-9.\-]{0,252}(:[0-9]{1,5})?(\/[a-zA-Z0-9_.~!$&'()*+,;=:@%\/?#\-]{0,256})?/
    condition:
        $url
}

rule PowerShell_Download_Cradle : suspicious
{
    meta:
        description = "PowerShell that downloads and runs code, or runs encoded commands"
        score = 70
    strings:
        $ps = "powershell" nocase ascii wide
        $download1 = "DownloadString" nocase ascii wide
        $download2 = "DownloadFile" nocase ascii wide
        $download3 = "Invoke-WebRequest" nocase ascii wide
        $exec1 = "IEX" ascii wide
        $exec2 = "Invoke-Expression" nocase ascii wide
        $encoded = /-e(nc|ncodedcommand)?\s+[A-Za-z0-9+\/=]{20}/ nocase
    condition:
        $ps and ((any of ($download*) and any of ($exec*)) or $encoded)
}

rule Process_Injection_API : suspicious
{
    meta:
        description = "Names of the Windows APIs used to inject code into another process"
        score = 50
    strings:
        $open = "OpenProcess" ascii wide
        $alloc = "VirtualAllocEx" ascii wide
        $write = "WriteProcessMemory" ascii wide
        $thread1 = "CreateRemoteThread" ascii wide
        $thread2 = "NtCreateThreadEx" ascii wide
        $thread3 = "QueueUserAPC" ascii wide
    condition:
        $alloc and $write and any of ($thread*, $open)
}

rule Shadow_Copy_Deletion : suspicious ransomware
{
    meta:
        description = "Commands that delete Windows volume shadow copies"
        score = 80
    strings:
        $vssadmin = /vssadmin(\.exe)?\s+delete\s+shadows/ nocase ascii wide
        $wmic = /wmic(\.exe)?\s+shadowcopy\s+delete/ nocase ascii wide
        $bcdedit = /bcdedit(\.exe)?\s+\/set\s+\{default\}\s+recoveryenabled\s+no/ nocase ascii wide
    condition:
        any of them
}

rule Office_Macro_AutoExec : suspicious document
{
    meta:
        description = "Office document with a VBA macro that runs when it is opened"
        score = 60
    strings:
        $vba = "VBA" ascii wide
        $auto1 = "AutoOpen" nocase ascii wide
        $auto2 = "Document_Open" nocase ascii wide
        $auto3 = "Workbook_Open" nocase ascii wide
        $auto4 = "Auto_Open" nocase ascii wide
    condition:
        (uint32(0) == 0xE011CFD0 or uint32(0) == 0x04034B50) and $vba and any of ($auto*)
}

rule Private_Key : credentials
{
    meta:
        description = "PEM private key"
        score = 40
    strings:
        $pem = /-----BEGIN (RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/
    condition:
        $pem
}

rule Script_Obfuscation : suspicious
{
    meta:
        description = "Script that decodes and evaluates a payload (JavaScript, PHP, VBScript)"
        score = 50
        experimental = true
    strings:
        $js1 = "eval(unescape(" nocase
        $js2 = "eval(atob(" nocase
        $js3 = "String.fromCharCode(" nocase
        $php1 = "eval(base64_decode(" nocase
        $php2 = "eval(gzinflate(" nocase
        $vbs = "Execute(" nocase
        $vbs_chr = /Chr\(\d{2,3}\)\s*&\s*Chr\(\d{2,3}\)/ nocase
    condition:
        any of ($js1, $js2, $php1, $php2) or ($js3 and #js3 > 5) or ($vbs and $vbs_chr)
}
