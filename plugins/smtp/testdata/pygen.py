#!/usr/bin/python3
"""Writes e-mail messages built with Python's own email package into the
folder given as argument, for the smtp plugin's tests to compare with
Python's parser: multipart/mixed, alternative, related and nested
structures, attached messages, bodies in UTF-8, ISO-8859-1,
Windows-1252, Shift_JIS, KOI8-R, EUC-KR, GB2312 and Big5, quoted-printable
and base64, encoded-word and RFC 2231 filenames, LF and CRLF line endings.

Also writes bench.eml: a 200 KiB message with 3 attachments, for the
benchmark.
"""

import os
import random
import sys
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

random.seed(20261127)  # the generator's boundaries come from random


def blob(n, seed):
    r = random.Random(seed)
    return bytes(r.randrange(256) for _ in range(n))


def base(subject, sender=('Jörg Müller', 'jorg', 'example.de'), pol=policy.default):
    m = EmailMessage(policy=pol)
    m['Subject'] = subject
    m['From'] = Address(*sender)
    m['To'] = [Address('Ana Lima', 'ana', 'example.com'), Address('"Doe, John"', 'john.doe', 'example.org'),
               Address('', 'plain', 'example.net')]
    m['Cc'] = 'Équipe <equipe@example.fr>, group-list: a@example.com, b@example.com;'
    m['Date'] = 'Fri, 27 Nov 2026 16:42:41 +0100'
    m['Message-ID'] = '<%s@example.com>' % subject.encode('ascii', 'replace').decode().replace(' ', '.')
    m['Received'] = 'from mx.example.com (mx.example.com [192.0.2.1]) by mail.example.org with ESMTPS id abc; Fri, 27 Nov 2026 16:42:40 +0100'
    m['Received'] = 'from [198.51.100.7] by mx.example.com; Fri, 27 Nov 2026 16:42:39 +0100'
    m['X-Originating-IP'] = '[198.51.100.7]'
    return m


def messages():
    out = {}

    m = base('Plain UTF-8 — café')
    m.set_content('Bonjour, voilà le café.\nSecond line with a URL http://example.com/a%20b\n')
    out['plain-utf8'] = m

    for cs, text in [('iso-8859-1', 'Ça coûte 10 €? Non: 10 livres, déjà payé.'.replace('€', 'EUR')),
                     ('windows-1252', 'Curly “quotes” – and a dash… €5'),
                     ('shift_jis', '日本語のメールです。よろしくお願いします。'),
                     ('koi8-r', 'Привет, это письмо на русском языке.'),
                     ('euc-kr', '안녕하세요, 한국어 메일입니다.'),
                     ('gb2312', '你好，这是一封中文邮件。'),
                     ('big5', '你好，這是一封中文郵件。')]:
        for cte in ('quoted-printable', 'base64', '8bit'):
            m = base('Charset %s %s — %s' % (cs, cte, text[:10]))
            m.set_content(text + '\n', charset=cs, cte=cte)
            m.add_alternative('<p>%s</p>\n' % text, subtype='html', charset=cs, cte=cte)
            out['alt-%s-%s' % (cs, cte)] = m

    m = base('Mixed with attachments')
    m.set_content('See the attachments.\n')
    m.add_alternative('<html><body><p>See the <b>attachments</b>.</p></body></html>\n', subtype='html')
    m.add_attachment(blob(5000, 1), maintype='application', subtype='pdf', filename='report.pdf')
    m.add_attachment(blob(3000, 2), maintype='application', subtype='octet-stream', filename='café résumé.bin')
    m.add_attachment('Texte en latin-1: été\n', subtype='plain', charset='iso-8859-1', filename='note.txt', disposition='inline')
    m.add_attachment('Windows text “x”\n', subtype='plain', charset='windows-1252', filename='日本語.txt', cte='base64')
    m.add_attachment(blob(100, 3), maintype='image', subtype='png', filename='a' * 120 + '.png')
    out['mixed-attachments'] = m

    m = base('Nested related')
    m.set_content('Plain part\n')
    m.add_alternative('<html><body><img src="cid:logo@example.com"></body></html>\n', subtype='html')
    m.get_payload()[1].add_related(blob(800, 4), maintype='image', subtype='gif', cid='<logo@example.com>', filename='logo.gif')
    m.add_attachment(blob(2000, 5), maintype='application', subtype='zip', filename='archive.zip')
    out['nested-related'] = m

    inner = base('Inner message', sender=('Inner Sender', 'inner', 'example.com'))
    inner.set_content('This is the forwarded message.\n')
    inner.add_attachment(blob(700, 6), maintype='application', subtype='x-msdownload', filename='setup.exe')
    m = base('Forward with rfc822')
    m.set_content('Forwarding.\n')
    m.add_attachment(inner)
    out['rfc822-attachment'] = m

    m = base('Forward rfc822 named')
    m.set_content('Forwarding, named.\n')
    m.add_attachment(inner, filename='forwarded.eml')
    out['rfc822-named'] = m

    m = base('CRLF policy', pol=policy.SMTP)
    m.set_content('Line one\nLine two\n')
    m.add_attachment(blob(1500, 7), maintype='application', subtype='octet-stream', filename='crlf.bin')
    out['crlf-smtp'] = m

    m = base('Long headers ' + 'word ' * 40)
    m['X-Long'] = 'x' * 200
    m['References'] = ' '.join('<ref%d@example.com>' % i for i in range(30))
    m.set_content('Short body.\n')
    out['long-headers'] = m

    m = base('Encoded filename header')
    m.set_content('Body\n')
    m.add_attachment(blob(400, 8), maintype='application', subtype='octet-stream', filename='x.bin')
    att = m.get_payload()[1]
    del att['Content-Disposition']
    att['Content-Disposition'] = 'attachment; filename="=?utf-8?b?w6l0w6kucGRm?="'
    out['ew-filename'] = m

    m = base('Inline text with name only')
    m.set_content('Body\n')
    m.add_attachment(b'data', maintype='application', subtype='octet-stream')
    att = m.get_payload()[1]
    del att['Content-Disposition']
    att.set_param('name', 'named-by-type.dat')
    out['content-type-name'] = m

    # The benchmark message: 200 KiB, three attachments.
    m = base('Benchmark message')
    m.set_content(('The quarterly report is attached. ' * 20 + '\n') * 40)
    m.add_alternative('<html><body>' + ('<p>The quarterly report is attached.</p>' * 200) + '</body></html>\n', subtype='html')
    m.add_attachment(blob(83_000, 9), maintype='application', subtype='pdf', filename='report.pdf')
    m.add_attachment(blob(40_000, 10), maintype='application', subtype='zip', filename='data.zip')
    m.add_attachment(('col1,col2\n' + 'a,b\n' * 1000).encode(), maintype='text', subtype='csv', filename='table.csv')
    out['bench'] = m
    return out


def main(folder):
    os.makedirs(folder, exist_ok=True)
    for name, m in messages().items():
        with open(os.path.join(folder, name + '.eml'), 'wb') as f:
            f.write(m.as_bytes())


if __name__ == '__main__':
    main(sys.argv[1])
