from lxml import etree


def parse(document):
    # ruleid: python-xxe-unsafe-parser
    parser = etree.XMLParser(resolve_entities=True)
    # ruleid: python-xxe-unsafe-parser
    loose = etree.XMLParser(no_network=False, load_dtd=True)
    # ok: python-xxe-unsafe-parser
    strict = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(document, parser), loose, strict
