from lxml import etree


def import_feed(document: bytes):
    parser = etree.XMLParser(resolve_entities=True)  # label: vulnerable CWE-611
    strict = etree.XMLParser(resolve_entities=False, no_network=True)  # label: safe CWE-611
    return etree.fromstring(document, parser), etree.fromstring(document, strict)


def import_catalog(document: bytes):
    loose = etree.XMLParser(load_dtd=True, no_network=False)  # label: vulnerable CWE-611
    return etree.fromstring(document, loose)
