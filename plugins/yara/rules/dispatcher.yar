/*
   Default dispatcher rules of stoq's yara plugin (option dispatch_rules).

   A matching rule's meta "plugin" names the worker plugin(s) the payload
   is sent to (comma-separated); meta save = "False" sets the payload's
   should_archive to false. The rule's match is handed to each worker as
   dispatch meta (payload.DispatchMeta["yara"][worker]).
*/

// The exe_file rule of stoQ's documentation: a DOS stub next to an MZ header
// anywhere in the payload sends it to pecarve, which carves the executables.
// Besides the DOS stub text, a PE header anywhere counts too (the "PE\0\0"
// signature, a 20-byte file header, then the PE32 or PE32+ optional header
// magic that pecarve requires), so PEs with a modified stub are carved.
//
// The condition is linear in the payload: no loop over the matches of $mz.
// Following each "MZ" to its e_lfanew (for any i in (1..#mz)) costs libyara
// time quadratic in the number of "MZ" (@mz[i] walks the match list): 100,000
// of them took 12 s and a PE behind 2 MiB of them was never dispatched. The
// header is matched where it is instead, and pecarve checks which MZ points
// at it.
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
        $pe_header = { 50 45 00 00 [20] 0B ( 01 | 02 ) }
    condition:
        $mz and ($dos_stub or $win32_stub or $pe_header)
}

// ---- e-mail ------------------------------------------------------------

// An RFC 5322 message (an .eml, a raw SMTP DATA body, one message of an
// mbox): at least two distinct header fields, each at the start of a line
// of the first 8 KiB and before the first empty line (the end of the
// header section). Mail does not always begin with From: (Received:,
// Return-Path:, Delivered-To: or X- fields often come first), so any two of
// the fields below count. Content-Type and X- fields do not (HTTP has them
// too), so neither an HTTP response nor a text that mentions "From:" is
// mail.
rule smtp_message
{
    meta:
        description = "E-mail message: parse it and extract its attachments"
        plugin = "smtp"
        save = "True"
    strings:
        $hdr_received = /(^|\n)Received[ \t]{0,16}:/ nocase
        $hdr_return_path = /(^|\n)Return-Path[ \t]{0,16}:/ nocase
        $hdr_delivered_to = /(^|\n)Delivered-To[ \t]{0,16}:/ nocase
        $hdr_message_id = /(^|\n)Message-ID[ \t]{0,16}:/ nocase
        $hdr_mime_version = /(^|\n)MIME-Version[ \t]{0,16}:/ nocase
        $hdr_from = /(^|\n)From[ \t]{0,16}:/ nocase
        $hdr_sender = /(^|\n)Sender[ \t]{0,16}:/ nocase
        $hdr_reply_to = /(^|\n)Reply-To[ \t]{0,16}:/ nocase
        $hdr_to = /(^|\n)To[ \t]{0,16}:/ nocase
        $hdr_cc = /(^|\n)Cc[ \t]{0,16}:/ nocase
        $hdr_subject = /(^|\n)Subject[ \t]{0,16}:/ nocase
        $hdr_date = /(^|\n)Date[ \t]{0,16}:/ nocase
        $hdr_in_reply_to = /(^|\n)In-Reply-To[ \t]{0,16}:/ nocase
        $hdr_references = /(^|\n)References[ \t]{0,16}:/ nocase
        $hdr_dkim = /(^|\n)DKIM-Signature[ \t]{0,16}:/ nocase
        $hdr_authentication_results = /(^|\n)Authentication-Results[ \t]{0,16}:/ nocase
        $empty_line = { 0A 0A }
        $empty_line_crlf = { 0A 0D 0A }
    condition:
        for 2 of ($hdr_*) : (
            @[1] < 8192 and
            (not $empty_line or @[1] < @empty_line[1]) and
            (not $empty_line_crlf or @[1] < @empty_line_crlf[1])
        )
}

// ---- archives and compressed data --------------------------------------

// Each format by its magic bytes at offset 0 (tar: "ustar" at 257), sent to
// decompress; what comes out is dispatched again, so an archive inside an
// archive is opened in turn. Office Open XML documents, JARs and APKs are
// zip files and go to decompress too, as in stoQ.

rule zip_file
{
    meta:
        description = "ZIP archive (also JAR, APK, Office Open XML)"
        plugin = "decompress"
        save = "True"
    strings:
        $local_file = { 50 4B 03 04 }
        $empty = { 50 4B 05 06 }
        $spanned = { 50 4B 07 08 }
    condition:
        $local_file at 0 or $empty at 0 or $spanned at 0
}

rule gzip_file
{
    meta:
        description = "gzip compressed data (deflate)"
        plugin = "decompress"
        save = "True"
    condition:
        uint16(0) == 0x8B1F and uint8(2) == 8
}

rule bzip2_file
{
    meta:
        description = "bzip2 compressed data"
        plugin = "decompress"
        save = "True"
    strings:
        $block = { 31 41 59 26 53 59 }
        $end_of_stream = { 17 72 45 38 50 90 }
    condition:
        uint16(0) == 0x5A42 and uint8(2) == 0x68 and uint8(3) >= 0x31 and uint8(3) <= 0x39 and
        ($block at 4 or $end_of_stream at 4)
}

rule xz_file
{
    meta:
        description = "xz compressed data"
        plugin = "decompress"
        save = "True"
    strings:
        $magic = { FD 37 7A 58 5A 00 }
    condition:
        $magic at 0
}

rule zstd_file
{
    meta:
        description = "Zstandard compressed data"
        plugin = "decompress"
        save = "True"
    condition:
        uint32(0) == 0xFD2FB528
}

rule sevenzip_file
{
    meta:
        description = "7-Zip archive"
        plugin = "decompress"
        save = "True"
    strings:
        $magic = { 37 7A BC AF 27 1C }
    condition:
        $magic at 0
}

rule rar_file
{
    meta:
        description = "RAR archive (version 1.5 to 4 and version 5)"
        plugin = "decompress"
        save = "True"
    strings:
        $rar4 = { 52 61 72 21 1A 07 00 }
        $rar5 = { 52 61 72 21 1A 07 01 00 }
    condition:
        $rar4 at 0 or $rar5 at 0
}

rule cab_file
{
    meta:
        description = "Microsoft Cabinet archive"
        plugin = "decompress"
        save = "True"
    strings:
        $magic = { 4D 53 43 46 00 00 00 00 }
    condition:
        $magic at 0
}

rule tar_file
{
    meta:
        description = "tar archive (POSIX ustar or GNU)"
        plugin = "decompress"
        save = "True"
    strings:
        $ustar = "ustar"
    condition:
        $ustar at 257
}

// ---- images and documents ----------------------------------------------

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
