/*
   Default dispatcher rules of stoq's yara plugin (option dispatch_rules).

   A matching rule's meta "plugin" names the worker plugin(s) the payload
   is sent to (comma-separated); meta save = "False" sets the payload's
   should_archive to false. The rule's match is handed to each worker as
   dispatch meta (payload.DispatchMeta["yara"][worker]).
*/

// The exe_file rule of stoQ's documentation: a DOS stub next to an MZ header
// anywhere in the payload sends it to pecarve, which carves the executables.
// Besides the DOS stub text, an MZ header followed by a PE signature at its
// e_lfanew also counts, so PEs with a modified stub are carved too.
rule exe_file
{
    meta:
        description = "Windows executable(s) in the payload: carve them"
        plugin = "pecarve"
        save = "True"
    strings:
        $mz = "MZ"
        $dos_stub = "This program cannot be run in DOS mode"
        $win32_stub = "This program must be run under Win32"
    condition:
        ($mz and ($dos_stub or $win32_stub)) or
        for any i in (1..#mz) : (
            uint32(@mz[i] + uint32(@mz[i] + 0x3C)) == 0x00004550
        )
}

// Images and documents whose metadata ExifTool reads.
rule exif_file
{
    meta:
        description = "Image or document with metadata: read it with ExifTool"
        plugin = "exif"
    strings:
        $png = { 89 50 4E 47 0D 0A 1A 0A }
        $gif87 = "GIF87a"
        $gif89 = "GIF89a"
        $pdf = "%PDF-"
        $webp = "WEBP"
        $ftyp = "ftyp"
    condition:
        (uint16be(0) == 0xFFD8 and uint8(2) == 0xFF) or            // JPEG
        $png at 0 or $gif87 at 0 or $gif89 at 0 or
        uint32(0) == 0x002A4949 or uint32(0) == 0x2A004D4D or     // TIFF (and raw camera files)
        (uint16(0) == 0x4D42 and uint32(2) == filesize) or        // BMP
        (uint32(0) == 0x46464952 and $webp at 8) or               // WebP
        $ftyp at 4 or                                             // HEIC, AVIF, MP4, MOV
        $pdf in (0..1024) or
        (uint32(0) == 0xE011CFD0 and uint32(4) == 0xE11AB1A1)     // OLE2 Office document
}
